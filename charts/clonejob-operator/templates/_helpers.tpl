{{- define "clonejob-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "clonejob-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "clonejob-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "clonejob-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "clonejob-operator.labels" -}}
{{ include "clonejob-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "clonejob-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "clonejob-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The namespaced rules: what the operator calls, as listed in clonejob_operator/permissions.py. */}}
{{- define "clonejob-operator.rules" -}}
- apiGroups: ["vmmigration.dev"]
  resources: ["clonejobs"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["vmmigration.dev"]
  resources: ["clonejobs/status"]
  verbs: ["get", "patch"]
- apiGroups: ["vmmigration.dev"]
  resources: ["migratingvms"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["vmmigration.dev"]
  resources: ["migratingvms/status"]
  verbs: ["get", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: ["cdi.kubevirt.io"]
  resources: ["datavolumes"]
  verbs: ["get", "list", "watch", "create", "delete"]
- apiGroups: ["kubevirt.io"]
  resources: ["virtualmachines"]
  verbs: ["get", "list", "watch", "create", "delete"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "delete"]
- apiGroups: ["snapshot.storage.k8s.io"]
  resources: ["volumesnapshots"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["vmmigration.dev"]
  resources: ["targetprojects"]
  verbs: ["get", "list", "watch"]
{{- if .Values.rbac.readSecrets }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}
- apiGroups: ["volsync.backube"]
  resources: ["replicationdestinations"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["snapshot.storage.k8s.io"]
  resources: ["volumesnapshots"]
  verbs: ["patch", "delete"]
- apiGroups: ["vmmigration.dev"]
  resources: ["migratingvms"]
  verbs: ["patch"]
{{- end -}}

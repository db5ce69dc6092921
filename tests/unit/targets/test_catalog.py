"""The driver catalog: the Compute Engine library is loaded only when a Compute Engine job needs it."""

from __future__ import annotations

import subprocess
import sys


def test_an_operator_that_only_clones_onto_kubevirt_never_loads_the_compute_engine_library() -> None:
    script = (
        "import sys, kubernetes\n"
        "from clonejob_operator import cli, controller\n"
        "from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef\n"
        "from clonejob_operator.kube import Kube\n"
        "from clonejob_operator.targets.catalog import Drivers\n"
        "drivers = Drivers(Kube(kubernetes.client.Configuration()))\n"
        "dv = ResourceRef(api_version='cdi.kubevirt.io/v1beta1', kind='DataVolume', name='d', uid='u')\n"
        "assert drivers.for_cleanup(CloneJobStatus(created_resources=[dv])) == [drivers.kubevirt]\n"
        "assert 'google.cloud.compute_v1' not in sys.modules\n"
        "disk = ResourceRef(api_version='compute.googleapis.com/v1', kind='Disk', name='d')\n"
        "lost = CloneJobStatus(created_resources=[disk])\n"  # details lost: KubeVirt's label survey costs nothing
        "assert drivers.for_cleanup(lost) == [drivers.kubevirt, drivers.compute_engine]\n"
        "assert 'google.cloud.compute_v1' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_without_the_computeengine_extra_a_compute_engine_job_is_told_which_extra_to_install() -> None:
    script = (
        "import sys, kubernetes\n"
        "sys.modules['google.cloud.compute_v1'] = None\n"  # an installation without the extra
        "from clonejob_operator.codes import Code, JobError\n"
        "from clonejob_operator.kube import Kube\n"
        "from clonejob_operator.targets.catalog import Drivers\n"
        "try:\n"
        "    Drivers(Kube(kubernetes.client.Configuration())).compute_engine\n"
        "except JobError as error:\n"
        "    assert error.code is Code.FAILED_PRECONDITION, error.code\n"
        "    print(error.message)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pip install 'clonejob-operator[computeengine]'" in result.stdout

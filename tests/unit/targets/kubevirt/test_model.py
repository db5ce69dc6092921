"""The KubeVirt target's defaults: set in one place, and idempotent."""

from __future__ import annotations

from clonejob_operator.api.kubevirt import KubevirtTargetDetails, with_defaults


def test_defaults_fill_only_what_is_unset_and_applying_them_twice_changes_nothing() -> None:
    mine = KubevirtTargetDetails.model_validate(
        {
            "instancetype": {"name": "u1.large"},
            "networks": [{"name": "lan", "multus": {"networkName": "ns/lan"}}, {"name": "p", "pod": {}}],
            "firmware": {"secureBoot": False},
            "osAdaptation": {"profile": "virt-v2v"},
        }
    )
    once = with_defaults(mine)
    assert once.memory is None and once.cpu is None  # an instancetype sizes the VM
    assert [n.binding for n in once.networks or []] == ["bridge", "masquerade"]
    assert once.firmware is not None and once.firmware.bootloader == "BIOS"
    assert once.os_adaptation is not None and once.os_adaptation.profile == "virt-v2v"
    assert with_defaults(once) == once
    assert mine.networks is not None and mine.networks[0].binding is None  # the input is left as it was


def test_a_migratingvm_stored_with_the_old_adaptation_fields_is_told_where_they_went() -> None:
    """The API server prunes the old fields on read: ``osAdaptation: {}`` names the profile to use instead."""
    import pytest
    from pydantic import ValidationError

    from clonejob_operator.api.base import describe
    from clonejob_operator.api.migratingvm import MigratingVmSpec

    with pytest.raises(ValidationError) as raised:
        MigratingVmSpec.model_validate({"sourceVmId": "v", "kubevirtTargetDefaults": {"osAdaptation": {}}})
    said = describe(raised.value, "spec")
    assert said.startswith("spec.kubevirtTargetDefaults.osAdaptation: names no profile: image, command, args")
    assert "AdaptationProfile" in said and "osAdaptation.profile names it" in said

"""server/hubauth.py: who a session lets in, by the Hub's user model (name, groups)."""

from __future__ import annotations

from interactive_ext.server.hubauth import HubIdentityProvider


def test_named_users_and_groups_are_let_in_others_not() -> None:
    provider = HubIdentityProvider(hub_users={"ana"}, hub_groups={"lab"})
    assert provider.allows({"name": "ana", "groups": []})
    assert provider.allows({"name": "ben", "groups": ["lab", "x"]})
    assert not provider.allows({"name": "cy", "groups": ["other"]})
    assert not provider.allows({"name": "dee"})
    assert not HubIdentityProvider().allows({"name": "ana", "groups": ["lab"]})

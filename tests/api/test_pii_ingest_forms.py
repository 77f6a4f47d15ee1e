"""Issue 16 through the collection API: free text as people type it is redacted at ingestion,
and look-alike codes next to it are kept as they were."""

from __future__ import annotations

from tests.conftest import basic


def test_free_text_in_real_peoples_forms_is_redacted_and_codes_are_kept(
    client, container, workspace, write_key
):
    note = (
        "客人身分證w162923845，手機0960.568.321，另留00886 968359669；"
        "貨品編號 T3944683，App 版本 4.5.0.15，生日：42年4月11日"
    )
    r = client.post(
        "/v1/identify",
        headers=basic(write_key),
        json={"userId": "pii16-1", "messageId": "pii16-m1", "traits": {"備註": note}},
    )
    assert r.status_code == 200, r.text
    p = container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="pii16-1")
    assert p is not None
    assert p.traits["備註"] == (
        "客人身分證<TW_NATIONAL_ID>，手機<TW_PHONE>，另留<TW_PHONE>；"
        "貨品編號 T3944683，App 版本 4.5.0.15，生日：<BIRTH_DATE>"
    )

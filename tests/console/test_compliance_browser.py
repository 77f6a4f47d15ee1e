"""Compliance screens in a real headless chromium: audit trail, who saw a customer, DSRs, consent,
the profile viewer; every role's navigation; support cannot open the audit trail."""

from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import Path

import pytest

from tests.console.seed import Seeded

NAV = {
    "compliance_officer": {"Audit trail", "Who saw this customer", "Data-subject requests", "Consent history",
                           "Profile viewer"},
    "support_agent": {"Consent history", "Profile viewer"},
    "marketer": {"Segment builder", "Dashboards"},
    "analyst": {"Profile viewer", "Segment builder", "Dashboards"},
    "data_engineer": {"Consent history", "Profile viewer", "Ingestion health"},
    "admin": {"Audit trail", "Who saw this customer", "Data-subject requests", "Consent history", "Profile viewer",
              "Segment builder", "Dashboards", "Ingestion health", "Trait catalog"},
}


@pytest.mark.parametrize("role", sorted(NAV))
def test_each_role_logs_in_and_sees_only_its_screens(console, seeded: Seeded, role):
    console.login(seeded, role)
    page = console.page
    assert set(page.locator("#nav a").all_inner_texts()) == NAV[role]
    page.wait_for_selector("#main h1")
    page.wait_for_load_state("networkidle")
    console.shot(f"{role}-home-en")


def test_compliance_officer_finds_reads_exports_them_and_sees_the_chain_verified(console, seeded: Seeded, container):
    console.login(seeded, "compliance_officer")
    page = console.page
    page.goto(console.base + "/console/#/audit")
    page.wait_for_selector("#chain-status [data-chain]", timeout=120_000)
    # The chain is the database's (all workspaces): the page must say what verification over the
    # range it names says. On a fresh database (CI) that is "verified"; a shared one may hold
    # checkpoints signed by another installation's key, rightly reported as the first bad record.
    truth = container.audit.verify(after_seq=int(page.get_attribute("#chain-status [data-chain]", "data-from")))
    shown = page.inner_text("#chain-status")
    if truth.ok:
        assert page.get_attribute("#chain-status [data-chain]", "data-chain") == "ok" and "Chain verified." in shown
    else:
        assert f"Chain broken at seq {truth.broken_seq}." in shown and truth.problem.value in shown
    assert truth.ok or not os.environ.get("CI"), truth.as_dict()
    page.select_option("select[name=idtype]", "email")
    page.fill("input[name=idvalue]", seeded.amy_email)
    page.click("form[role=search] button[type=submit]")
    console.wait_until("document.querySelectorAll('#audit-results tbody tr').length >= 3"
                           " && document.querySelector('#audit-results').innerText.includes('seed-analyst')")
    text = page.inner_text("#audit-results")
    assert "user:seed-support" in text and "Customer support" in text and "Contract" in text
    assert page.locator(f"#audit-results [data-full='{seeded.amy}']").count() >= 3  # shortened, whole in title
    console.shot("compliance-audit-en")
    with page.expect_download() as dl:
        page.click("text=Export CSV")
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text(encoding="utf-8"))))
    assert {r["subject"] for r in rows} == {seeded.amy}
    assert {"user:seed-support", "user:seed-analyst"} <= {r["actor"] for r in rows}
    page.wait_for_selector("#export-status:has-text('Exported')")
    # The export itself is on the trail: filter by action = export.
    page.select_option("select[name=action]", "export")
    page.click("form[role=search] button[type=submit]")
    console.wait_until("document.querySelector('#audit-results').innerText.includes('console_export')")


def test_who_saw_this_customer_lists_reads_with_purpose_and_role(console, seeded: Seeded):
    console.login(seeded, "compliance_officer")
    page = console.page
    page.goto(f"{console.base}/console/#/who?type=email&value={seeded.amy_email}")
    page.wait_for_selector("#who-results table")
    text = page.inner_text("#who-results")
    for expected in ("user:seed-support", "Support agent", "Customer support", "user:seed-analyst", "Analyst",
                     "Analytics", "Legitimate interests"):
        assert expected in text
    console.shot("compliance-who-en")


def _open_case(console, seeded: Seeded, container, kind: str, steps: tuple[str, ...]):
    """A new person, a DSR of `kind` opened for them on the DSR screen, advanced by `steps` buttons."""
    pid = container.ingest.ingest([{"type": "identify", "userId": f"{kind}-browser",
                                    "messageId": f"{kind}-b-{seeded.workspace}",
                                    "traits": {"email": f"{kind}.browser@example.com"}}],
                                  workspace=seeded.workspace, source="test").profiles[0]
    console.login(seeded, "compliance_officer")
    page = console.page
    page.goto(console.base + "/console/#/dsr")
    page.select_option("select[name=kind]", kind)
    page.select_option("select[name=idtype]", "profile_id")
    page.fill("input[name=idvalue]", pid)
    page.click("text=Open request")
    page.wait_for_selector(".state.ok:has-text('opened')")
    row = page.locator("#dsr-list tbody tr", has_text=pid)
    row.wait_for()
    assert "days left" in row.inner_text()
    for label in steps:
        row.get_by_role("button", name=label).first.click()
        console.wait_until("!document.querySelector('#dsr-list .state.loading')")
        row = page.locator("#dsr-list tbody tr", has_text=pid)
    return page, pid, row


def test_dsr_access_request_runs_and_its_package_downloads(console, seeded: Seeded, container):
    page, _, row = _open_case(console, seeded, container, "access", ("Mark verified", "Mark approved", "Run"))
    row.get_by_role("button", name="Download package").wait_for()
    console.shot("compliance-dsr-en")
    with page.expect_download() as dl:
        row.get_by_role("button", name="Download package").click()
    assert "manifest.json" in zipfile.ZipFile(dl.value.path()).namelist()


def test_erasure_needs_the_typed_confirmation(console, seeded: Seeded, container):
    page, pid, row = _open_case(console, seeded, container, "erasure", ("Mark verified", "Mark approved"))
    row.get_by_role("button", name="Run erasure").first.click()
    dialog = page.locator("dialog[open]")
    confirm = dialog.get_by_role("button", name="Erase permanently")
    assert confirm.is_disabled()
    dialog.locator("input[name=confirm]").fill("not-the-id")
    assert confirm.is_disabled()
    dialog.get_by_role("button", name="Cancel").click()
    assert "approved" in page.locator("#dsr-list tbody tr", has_text=pid).inner_text()
    row.get_by_role("button", name="Run erasure").first.click()
    page.locator("dialog[open] input[name=confirm]").fill(pid)
    page.locator("dialog[open]").get_by_role("button", name="Erase permanently").click()
    console.wait_until(f"[...document.querySelectorAll('#dsr-list tbody tr')].some(r => r.innerText.includes('{pid}')"
                           " && r.innerText.includes('done'))")
    assert container.profiles.get_profile(workspace=seeded.workspace, profile_id=pid) is None or \
        container.profiles.get_profile(workspace=seeded.workspace, profile_id=pid).status != "active"


def test_consent_history_and_profile_viewer_show_masking_with_reasons(console, seeded: Seeded):
    console.login(seeded, "support_agent")
    page = console.page
    page.goto(f"{console.base}/console/#/consent?type=email&value={seeded.amy_email}")
    page.wait_for_selector("#consent-results table")
    text = page.inner_text("#consent-results")
    assert "Marketing" in text and "granted" in text and "v2" in text
    page.goto(f"{console.base}/console/#/profile?type=email&value={seeded.amy_email}")
    page.wait_for_selector("#profile-results table")
    text = page.inner_text("#profile-results")
    assert "member_tier" in text and "gold" in text
    assert "partly masked" in text and "contact: only a hint is shown for this role and purpose" in text
    assert "amy.console@example.com" not in text  # the e-mail is masked for support
    console.shot("support-profile-en")


def test_support_agent_cannot_open_the_audit_trail(console, seeded: Seeded):
    console.login(seeded, "support_agent")
    page = console.page
    assert "Audit trail" not in page.locator("#nav").inner_text()
    page.goto(console.base + "/console/#/audit")
    page.wait_for_selector("#chain-status .state.error")
    assert "FORBIDDEN" in page.inner_text("#chain-status")
    page.wait_for_selector("#audit-results .state.error")
    assert "Your role may not do this." in page.inner_text("#audit-results")


def test_wrong_password_is_refused_with_a_message(console, seeded: Seeded):
    console.allowed_errors.append("status of 401")  # the browser logs the refused login request
    page = console.page
    page.goto(console.base + "/")
    page.fill("input[name=username]", seeded.username("admin"))
    page.fill("input[name=password]", "not-the-password")
    page.fill("input[name=workspace]", seeded.workspace)
    page.click("form button[type=submit]")
    page.wait_for_selector("[role=alert]")
    assert "UNAUTHENTICATED" in page.inner_text("[role=alert]")
    assert page.locator("#nav a").count() == 0


def test_api_key_login_and_keyboard_skip_link(console, seeded: Seeded, container):
    analyst_key = container.auth.create_api_key(workspace=seeded.workspace, role="analyst", name="console-test",
                                                actor="test")[1]
    page = console.page
    page.goto(console.base + "/console/")
    page.get_by_role("tab", name="API key").click()
    page.fill("input[name=apikey]", analyst_key)
    page.keyboard.press("Enter")
    page.wait_for_selector("#nav a")
    assert "Dashboards" in page.inner_text("#nav")
    # The key went into an HttpOnly cookie: the page's storage and document.cookie never hold it.
    stored = page.evaluate("JSON.stringify({...sessionStorage}) + JSON.stringify({...localStorage}) + document.cookie")
    assert analyst_key not in stored and "veil_console" not in stored
    cookie = next(c for c in page.context.cookies() if c["name"] == "veil_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.activeElement.id") == "main"  # focus moves to the new screen
    page.focus("#skip-link")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main" and "#/" in page.url
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.tagName") == "A"  # back into the navigation

"""Building the analyzer and scanning e-mails/URLs must never touch the network.

Each check runs in a fresh interpreter with an empty tldextract cache and HOME,
so nothing cached by an earlier run can hide a download attempt. The socket
layer is replaced by a guard that records every attempt and then fails it
(tldextract swallows fetch errors and falls back, so raising alone would hide
an attempt; recording does not).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

GUARD = textwrap.dedent(
    """
    import json, socket
    ATTEMPTS = []

    def _blocked(name):
        def guard(*args, **kwargs):
            ATTEMPTS.append([name, repr(args[-1] if args else kwargs)[:120]])
            raise OSError(f"network disabled in test ({name})")
        return guard

    socket.socket.connect = _blocked("socket.connect")
    socket.socket.connect_ex = _blocked("socket.connect_ex")
    socket.create_connection = _blocked("socket.create_connection")
    socket.getaddrinfo = _blocked("socket.getaddrinfo")
    socket.gethostbyname = _blocked("socket.gethostbyname")
    """
)

SCAN = textwrap.dedent(
    """
    from privacy.detection import get_analyzer, scan_text
    from privacy.recognizers import OFFLINE_TLD_EXTRACT

    get_analyzer()
    texts = [
        "請寄到amy.chen@gmail.com或kevin@yahoo.com.tw，官網 https://www.example.com.tw/faq",
        "Mail ken@netvigator.com, see http://veil-demo.com.hk/privacy?x=1 and www.example.co.uk",
        "電郵：ｗｅｉ＠ｍａｉｌ．ｅｘａｍｐｌｅ．ｃｏ．ｕｋ",
    ]
    findings = [[f.entity_type, f.text] for t in texts for f in scan_text(t)]
    print(json.dumps({"attempts": ATTEMPTS, "findings": findings,
                      "suffix_list_urls": list(OFFLINE_TLD_EXTRACT.suffix_list_urls)}))
    """
)

CONTROL = textwrap.dedent(
    """
    import tldextract
    # tldextract's default extractor, with the empty cache, tries to download the list.
    tldextract.TLDExtract(cache_dir=__import__("os").environ["TLDEXTRACT_CACHE"])("amy@gmail.com")
    print(json.dumps({"attempts": ATTEMPTS}))
    """
)


def run_isolated(body: str, tmp_path: Path) -> dict:
    """Run GUARD + body in a new interpreter with empty caches; return its JSON line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TLDEXTRACT")}
    cache = tmp_path / "tldextract-cache"
    cache.mkdir()
    env.update(
        HOME=str(tmp_path),
        XDG_CACHE_HOME=str(tmp_path / "xdg"),
        TLDEXTRACT_CACHE=str(cache),
        PYTHONPATH=str(REPO),
        PYTHONDONTWRITEBYTECODE="1",
    )
    proc = subprocess.run(
        [sys.executable, "-c", GUARD + body],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_guard_catches_a_real_download_attempt(tmp_path: Path) -> None:
    # Control: proves the guard sees the kind of fetch the offline setup must avoid.
    out = run_isolated(CONTROL, tmp_path)
    assert out["attempts"], "guard did not record tldextract's default suffix-list fetch"


def test_build_and_scan_make_no_network_connection(tmp_path: Path) -> None:
    out = run_isolated(SCAN, tmp_path)
    assert out["attempts"] == []
    assert out["suffix_list_urls"] == []
    # E-mails only score above threshold after tldextract validation ran.
    emails = [text for kind, text in out["findings"] if kind == "EMAIL_ADDRESS"]
    assert emails == [
        "amy.chen@gmail.com",
        "kevin@yahoo.com.tw",
        "ken@netvigator.com",
        "ｗｅｉ＠ｍａｉｌ．ｅｘａｍｐｌｅ．ｃｏ．ｕｋ",
    ]
    assert not list((tmp_path / "tldextract-cache").iterdir()), "suffix list was cached to disk"


@pytest.mark.parametrize("module", ["privacy.detection", "privacy.recognizers"])
def test_import_alone_is_offline(tmp_path: Path, module: str) -> None:
    out = run_isolated(f"import {module}\nprint(json.dumps({{'attempts': ATTEMPTS}}))\n", tmp_path)
    assert out["attempts"] == []

"""bench/rspamd_bench.py's pure parts (/proc CPU parsing, process trees, sample selection,
rspamd log counts, agreement) and bench/rspamd/setup.sh's offline configuration on a stand-in
for /etc/rspamd. Needs neither rspamd nor the corpus."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.bench.bench_modules import BENCH_DIR, load_bench

BENCH = BENCH_DIR / "rspamd_bench.py"
rb = load_bench("rspamd_bench")


def _stat(pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int = 0,
          cstime: int = 0) -> str:
    # fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    #              utime stime cutime cstime priority nice ...
    rest = f"S {ppid} 1 1 0 -1 4194560 100 0 0 0 {utime} {stime} {cutime} {cstime} 20 0 1 0 5"
    return f"{pid} ({comm}) {rest}\n"


def test_parse_stat_reads_cpu_fields() -> None:
    st = rb.parse_stat(_stat(42, "rspamd", 1, 120, 30, 7, 3))
    assert (st.pid, st.ppid, st.utime, st.stime, st.cutime, st.cstime) == (42, 1, 120, 30, 7, 3)
    assert st.ticks == 160


def test_parse_stat_survives_spaces_and_parentheses_in_the_name() -> None:
    st = rb.parse_stat(_stat(7, "rspamd: normal (x) 1", 6, 5, 4))
    assert (st.pid, st.ppid, st.utime, st.stime) == (7, 6, 5, 4)


def test_parse_stat_rejects_other_text() -> None:
    with pytest.raises(ValueError, match="not a /proc"):
        rb.parse_stat("no parenthesis here")


def test_parse_stat_reads_this_process() -> None:
    text = Path(f"/proc/{os.getpid()}/stat").read_text()
    st = rb.parse_stat(text)
    assert st.pid == os.getpid()
    assert st.ppid == os.getppid()


def test_tree_ticks_takes_root_and_descendants_only() -> None:
    stats = [rb.parse_stat(_stat(*row)) for row in (
        (10, "main", 1, 5, 5, 2, 0),   # root: 12 ticks with a reaped child
        (11, "normal", 10, 100, 20),   # child
        (12, "helper", 11, 3, 0),      # grandchild
        (20, "other", 1, 999, 999),    # not in the tree
    )]
    assert rb.tree_ticks(stats, 10) == {10: 12, 11: 120, 12: 3}
    assert rb.tree_ticks(stats, 99) == {}


def test_cpu_delta_counts_new_processes_from_zero() -> None:
    before = {10: 100, 11: 50}
    after = {10: 110, 11: 80, 12: 5}
    assert rb.cpu_delta_ms(before, after) == pytest.approx(45 * 1000 / rb.CLK_TCK)
    assert rb.cpu_delta_ms(after, after) == 0


def _classes() -> dict[str, list[Path]]:
    return {
        "ham": [Path(f"ham/{i:03}.eml") for i in range(80)],
        "phish": [Path(f"phish/{i:03}.eml") for i in range(15)],
        "spam": [Path(f"spam/{i:03}.eml") for i in range(5)],
        "empty": [],
    }


def test_sample_is_proportional_and_seeded() -> None:
    sample = rb.select_sample(_classes(), 20, seed=15)
    counts = {c: sum(1 for k, _ in sample if k == c) for c in ("ham", "phish", "spam")}
    assert counts == {"ham": 16, "phish": 3, "spam": 1}
    assert all(p.parts[0] == c for c, p in sample)
    assert len({p for _, p in sample}) == 20
    assert sample == rb.select_sample(_classes(), 20, seed=15)
    assert sample != rb.select_sample(_classes(), 20, seed=16)


def test_sample_gives_every_class_at_least_one() -> None:
    by_class = {"ham": [Path(f"h{i}") for i in range(1000)], "spam": [Path("s0")]}
    sample = rb.select_sample(by_class, 10, seed=1)
    assert len(sample) == 10
    assert [c for c, _ in sample].count("spam") == 1


def test_sample_without_limit_is_everything() -> None:
    assert len(rb.select_sample(_classes(), 0, seed=1)) == 100
    assert len(rb.select_sample(_classes(), 500, seed=1)) == 100


def test_dns_requests_sums_task_lines() -> None:
    lines = [
        "... (default: F (no action): [1.10/15.00] [...]), len: 2914, time: 4ms, dns req: 0, x",
        "... rspamd_protocol_http_reply: regexp statistics: 81 pcre regexps scanned",
        "... (default: T (reject): [16.0/15.00] [...]), len: 10, time: 9ms, dns req: 3, x",
    ]
    assert rb.dns_requests(lines) == (2, 3)
    assert rb.dns_requests([]) == (0, 0)


def test_agreement_counts_per_class() -> None:
    rows = [("ham", False, False), ("ham", True, False), ("phish", True, True),
            ("phish", False, True)]
    got = rb.agreement(rows)
    assert got["ham"] == {"messages": 2, "rspamd": 1, "mailward": 0, "both": 0, "same": 1}
    assert got["phish"] == {"messages": 2, "rspamd": 1, "mailward": 2, "both": 1, "same": 1}


SETUP = BENCH.parent / "rspamd" / "setup.sh"


def _fake_etc(root: Path, extra: str = "") -> Path:
    """A small stand-in for the package's /etc/rspamd with the kinds of remote map it has."""
    etc = root / "src-etc"
    (etc / "modules.d").mkdir(parents=True)
    (etc / "local.d").mkdir()
    (etc / "local.d" / "admin.conf").write_text("# an administrator's file: not copied\n")
    (etc / "rspamd.conf").write_text('.include "$CONFDIR/common.conf"\n')
    (etc / "modules.d" / "phishing.conf").write_text(
        "phishing {\n"
        '  # see https://example.org/docs\n'
        '  openphish_map = "https://www.openphish.com/feed.txt";\n'
        "  exceptions = {\n"
        '    REDIRECTOR_FALSE = [\n'
        '      "https://maps.rspamd.com/rspamd/redirectors.inc.zst",\n'
        '      "fallback+file://${CONFDIR}/maps.d/redirectors.inc"\n'
        "    ];\n"
        '    PHISHED_WHITELISTED = ["glob;https://maps.rspamd.com/rspamd/pw.inc.zst"];\n'
        "  };\n"
        f"{extra}"
        "}\n"
    )
    (etc / "modules.d" / "fuzzy_check.conf").write_text(
        'rule "rspamd.com" {\n'
        '    servers = "round-robin:fuzzy1.rspamd.com:11335,fuzzy2.rspamd.com:11335";\n'
        "}\n"
    )
    (etc / "modules.d" / "rbl_group.conf").write_text(
        'symbols { X { description = "Listed at https://www.dnswl.org"; } }\n'
    )
    return etc


def _setup(tmp_path: Path, etc: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RSPAMD_ETC": str(etc), "RSPAMD_NO_INSTALL": "1"}
    return subprocess.run(
        ["sh", str(SETUP), str(tmp_path / "work"), "21333", "21334"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )


def test_setup_writes_an_offline_loopback_configuration(tmp_path: Path) -> None:
    proc = _setup(tmp_path, _fake_etc(tmp_path))
    assert proc.returncode == 0, proc.stderr
    work = (tmp_path / "work").resolve()
    etc = work / "etc"
    argv = proc.stdout.splitlines()
    assert argv[:4] == ["rspamd", "-f", "-c", str(etc / "rspamd.conf")]
    assert f"--var=CONFDIR={etc}" in argv
    assert f"--var=DBDIR={work / 'db'}" in argv
    phishing = (etc / "modules.d" / "phishing.conf").read_text()
    assert "openphish.com" not in phishing
    assert "maps.rspamd.com" not in phishing
    assert f'"glob;{work / "empty.map"}"' in phishing
    assert "fallback+file://" in phishing  # local maps are kept
    assert "# see https://example.org/docs" in phishing  # comments are left alone
    assert '"127.0.0.1:9"' in (etc / "modules.d" / "fuzzy_check.conf").read_text()
    top = (etc / "rspamd.conf").read_text()
    assert 'bind_socket = "127.0.0.1:21333"' in top
    assert 'bind_socket = "127.0.0.1:21334"' in top
    assert "rspamd_proxy" not in top and "fuzzy" not in top
    assert '"127.0.0.1:9"' in (etc / "local.d" / "options.inc").read_text()
    for module in ("rbl", "spf", "dkim", "dmarc", "fuzzy_check", "neural", "ratelimit"):
        assert (etc / "local.d" / f"{module}.conf").read_text() == "enabled = false;\n"
    assert not (etc / "local.d" / "admin.conf").exists()


def test_setup_refuses_a_remote_address_it_cannot_rewrite(tmp_path: Path) -> None:
    extra = "  custom_map = 'https://maps.example.net/list.txt';\n"
    proc = _setup(tmp_path, _fake_etc(tmp_path, extra))
    assert proc.returncode == 1
    assert "custom_map" in proc.stderr
    assert "remote address is left" in proc.stderr
    assert proc.stdout == ""


def test_hyperscan_ready_after_a_fresh_compile() -> None:
    lines = [
        "#1(main) <a>; re_cache; rspamd_re_cache_load_hyperscan: hyperscan database has NOT "
        "been loaded; no valid expressions",
        "#1(main) <a>; main; rspamd_handle_child_fork: starting normal process 3 (0)",
        "#2(hs_helper) rspamd_rs_compile_cb: compiled 172 regular expressions to the hyperscan "
        "tree, postpone loaded notification for 1 seconds to avoid races",
        "#1(main) <a>; re_cache; rspamd_re_cache_load_hyperscan: full hyperscan database of "
        "172 regexps has been loaded",
    ]
    assert not rb.hyperscan_ready(lines)  # the main process has it, the worker not yet
    lines.append("#3(normal) <a>; re_cache; rspamd_re_cache_load_hyperscan: full hyperscan "
                 "database of 172 regexps has been loaded")
    assert rb.hyperscan_ready(lines)


def test_hyperscan_ready_from_the_cache_once_the_helper_checked() -> None:
    lines = [
        "#1(main) <a>; re_cache; rspamd_re_cache_load_hyperscan: full hyperscan database of "
        "172 regexps has been loaded",
        "#3(normal) <a>; main; rspamd_handle_child_fork: starting normal process 3 (0)",
    ]
    assert not rb.hyperscan_ready(lines)  # the helper may still be checking the cache
    lines.append("#2(hs_helper) rspamd_rs_compile_cb: compiled 0 regular expressions to the "
                 "hyperscan tree, postpone loaded notification for 1 seconds to avoid races")
    assert rb.hyperscan_ready(lines)
    assert not rb.hyperscan_ready(lines[1:])  # no database at all


def test_process_title_drops_addresses_and_statistics() -> None:
    assert rb.process_title("rspamd: normal process (127.0.0.1:11333)") == "normal process"
    assert rb.process_title(
        "rspamd: main process; 77.5 msg/sec, 0.3 msg/sec spam (x)") == "main process"
    assert rb.process_title("python3 bench/rspamd_bench.py") == "python3 bench/rspamd_bench.py"

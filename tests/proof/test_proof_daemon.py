"""Proof of play in the running daemon: the null sink's monitor as ``output.monitor``.

A normal broadcast is logged ``played`` and heard with a measured delay; with the sink muted the
broadcast is ``not_heard`` ("không nghe thấy"), status says so, and the alert reaches a local
webhook; the report never counts it as aired. ``/metrics`` parses with Prometheus' own parser.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.support.harness import Daemon, Project, Webhook

pytestmark = [pytest.mark.audio, pytest.mark.slow]


def monitored_project(tmp_path, pulse_server, hook: Webhook) -> Project:
    project = Project(tmp_path)
    text = project.yaml_text().replace(
        "output: {grace_minutes: 1}", f"output: {{grace_minutes: 1, monitor: {pulse_server.sink_name}.monitor}}"
    )
    text += f"alerts: {{webhook: '{hook.url}', repeat_minutes: 1}}\n"
    project.save(text)
    return project


def wait_final(project: Project, n: int, timeout: float = 40.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [r for r in project.asrun_rows() if r["status"] != "started"]
        if len(rows) >= n:
            return rows
        time.sleep(0.2)
    raise AssertionError(f"as-run rows: {project.asrun_rows()}")


def test_heard_when_the_loudspeakers_play_and_not_heard_when_muted(tmp_path, pulse_server):
    hook = Webhook()
    project = monitored_project(tmp_path, pulse_server, hook)
    daemon = Daemon(project, pulse_server.env).start()
    pactl = ["pactl", "set-sink-mute", pulse_server.sink_name]
    try:
        assert daemon.cli("say", "Kính thưa bà con, đây là bản tin thử nghiệm.").returncode == 0
        (row,) = wait_final(project, 1)
        assert row["status"] == "played" and row["heard"] == 1, row
        proof = json.loads(row["proof"])
        assert proof["heard"] is True and -20 <= proof["delay_ms"] < 500, proof  # the monitor maps ~5 ms early

        subprocess.run(pactl + ["1"], env={**os.environ, **pulse_server.env}, check=True, timeout=10)
        assert daemon.cli("say", "Bản tin này không ai nghe thấy vì loa bị tắt tiếng.").returncode == 0
        rows = wait_final(project, 2)
        muted = rows[-1]
        assert (muted["status"], muted["heard"]) == ("not_heard", 0), muted
        alert = hook.wait_for("not_heard")
        assert alert["state"] == "firing" and "không nghe thấy" in alert["message"]
        code, status = daemon.api("GET", "/api/status")
        assert any("KHÔNG NGHE THẤY" in a for a in status["alerts"]), status["alerts"]
        assert any(a["kind"] == "not_heard" for a in status["active_alerts"])
        log = daemon.cli("log", "--json")
        assert "not_heard" in log.stdout

        code, metrics = daemon.api_text("/metrics")
        assert code == 200
        from prometheus_client.parser import text_string_to_metric_families

        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics)
            for s in family.samples
        }

        def count(outcome: str) -> list[float]:
            return [v for (n, labels), v in samples.items() if "broadcasts" in n and ("outcome", outcome) in labels]

        played, not_heard = count("played"), count("not_heard")
        assert played and played[0] == 1.0 and not_heard and not_heard[0] == 1.0, samples
        assert samples[("loaxa_time_to_air_seconds_count", ())] == 2.0  # both announcements reached the card
    finally:
        subprocess.run(pactl + ["0"], env={**os.environ, **pulse_server.env}, timeout=10)
        daemon.terminate()
        hook.close()


def test_a_monitor_added_while_the_daemon_runs_checks_the_next_broadcast(tmp_path, pulse_server):
    project = Project(tmp_path)
    project.save()
    daemon = Daemon(project, pulse_server.env).start()
    try:
        assert daemon.cli("say", "Bản tin trước khi có đầu nghe kiểm tra.").returncode == 0
        (row,) = wait_final(project, 1)
        assert row["status"] == "played" and row["heard"] is None, row

        mark = len(daemon.lines)
        project.save(
            project.yaml_text().replace(
                "output: {grace_minutes: 1}",
                f"output: {{grace_minutes: 1, monitor: {pulse_server.sink_name}.monitor, dead_air_seconds: 2}}",
            )
        )
        changed = daemon.wait_for("Đổi đầu ra âm thanh", timeout=10, start=mark)
        assert f"đầu nghe kiểm tra {pulse_server.sink_name}.monitor" in changed
        assert daemon.cli("say", "Bản tin sau khi có đầu nghe kiểm tra.").returncode == 0
        rows = wait_final(project, 2)
        assert rows[-1]["status"] == "played" and rows[-1]["heard"] == 1, rows[-1]
    finally:
        daemon.terminate()

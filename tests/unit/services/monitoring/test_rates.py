"""Rates from two readings: CPU %, bytes/s over the server's own clock, resets give no rate."""

from __future__ import annotations

from pathlib import Path

from tomo.services.monitoring.parse import parse_sample
from tomo.services.monitoring.rates import container_values, counters, server_values

FIXTURES = Path(__file__).parent / "fixtures"
FIRST = parse_sample((FIXTURES / "testbed_v1_1.txt").read_text())
SECOND = parse_sample((FIXTURES / "testbed_v1_2.txt").read_text())  # 3.62 s later, a busy loop running


def test_first_sample_has_gauges_but_no_rates() -> None:
    values = server_values(FIRST, None)
    assert values["memory_total"] == FIRST.memory_total and values["load_1"] == 4.59
    assert not {"cpu_percent", "disk_read_bps", "net_rx_bps"} & set(values)
    assert values["disk_used:/"] == FIRST.mounts[0].used


def test_rates_use_the_counter_deltas_over_the_servers_uptime() -> None:
    values = server_values(SECOND, counters(FIRST))
    elapsed = (SECOND.uptime_s or 0) - (FIRST.uptime_s or 0)
    busy = (SECOND.cpu_busy or 0) - (FIRST.cpu_busy or 0)
    total = (SECOND.cpu_total or 0) - (FIRST.cpu_total or 0)
    assert values["cpu_percent"] == round(busy / total * 100, 1)
    assert values["net_rx_bps"] == round(((SECOND.net_rx or 0) - (FIRST.net_rx or 0)) / elapsed, 1)
    assert values["disk_write_bps"] == round(((SECOND.disk_write or 0) - (FIRST.disk_write or 0)) / elapsed, 1)


def test_container_cpu_is_percent_of_one_core() -> None:
    [busy] = container_values(SECOND, counters(FIRST))
    elapsed = (SECOND.uptime_s or 0) - (FIRST.uptime_s or 0)
    cpu_ns = (SECOND.containers[0].cpu_ns or 0) - (FIRST.containers[0].cpu_ns or 0)
    assert busy["cpu_percent"] == round(cpu_ns / elapsed / 1e7, 1) and busy["cpu_percent"] > 40
    assert busy["memory_bytes"] == 507904 and busy["name"] == "f1-probe-busy"


def test_a_counter_that_went_down_gives_no_rate() -> None:
    previous = counters(FIRST)
    previous["net"] = [10**15, 10**15]  # more than now: the counter was reset
    values = server_values(SECOND, previous)
    assert "net_rx_bps" not in values and "net_tx_bps" not in values
    assert "disk_read_bps" in values and "cpu_percent" in values


def test_a_reboot_gives_no_rates_at_all() -> None:
    previous = counters(FIRST)
    previous["uptime"] = 10**7  # the server was up longer before: it rebooted since
    values = server_values(SECOND, previous)
    assert not {"cpu_percent", "disk_read_bps", "net_rx_bps"} & set(values)
    assert "cpu_percent" not in container_values(SECOND, previous)[0]


def test_a_recreated_container_has_no_rates_until_its_next_sample() -> None:
    previous = counters(FIRST)
    previous["containers"] = {"someone-else": [1, 1, 1, 1, 1]}
    [busy] = container_values(SECOND, previous)
    assert "cpu_percent" not in busy and busy["memory_bytes"] == 507904

"""The sample parser on real output of the testbed (cgroup v1) and on cgroup v2 files in the kernel's format."""

from __future__ import annotations

import time
from pathlib import Path

from tomo.lib.docker.commands import ps
from tomo.services.monitoring.parse import parse_sample, sections
from tomo.services.monitoring.probe import SCRIPT, sample_argv

FIXTURES = Path(__file__).parent / "fixtures"
V1 = (FIXTURES / "testbed_v1_1.txt").read_text()
BUSY_ID = "a9efe20fb83eab6944ff9e8cff4061fd53fbba5e2b9ceec0789dcfe8ac4f71b2"
# cgroup v2 (Documentation/admin-guide/cgroup-v2.rst): cpu.stat usage_usec, memory.current, memory.max ("max" when
# unlimited), memory.stat inactive_file, pids.current, io.stat "MAJ:MIN rbytes= wbytes= rios= wios= ...".
V2_CGROUP = f"""@@cg {BUSY_ID}
version 2
cpu_usec 2779335
memory 73400320
limit 134217728
pids 3
inactive_file 4194304
io 254:0 rbytes=1048576 wbytes=2097152 rios=10 wios=20 dbytes=0 dios=0
io 7:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0
net lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0
net   eth0:   5000      12    0    0    0     0          0         0     7000      15    0    0    0     0  0  0
"""


def v2_sample() -> str:
    head, _, _ = V1.partition(f"@@cg {BUSY_ID}")
    return head + V2_CGROUP


def test_the_script_is_constant_and_takes_its_data_as_arguments() -> None:
    argv = sample_argv("/srv/my apps; rm -rf /")
    assert argv[:3] == ["sh", "-c", SCRIPT] and argv[4] == "/srv/my apps; rm -rf /" and argv[5:] == ps()


def test_testbed_sample_gives_the_proc_figures() -> None:
    reading = parse_sample(V1)
    meminfo = sections(V1)["meminfo"]
    assert reading.cpu_count == 2
    assert reading.memory_total == int(meminfo[0].split()[1]) * 1024
    assert reading.load == (4.59, 4.03, 3.48) and reading.uptime_s == 3017.0
    assert reading.cpu_total is not None and 0 < (reading.cpu_busy or 0) < reading.cpu_total
    assert reading.swap_total == 0 and reading.swap_free == 0


def test_testbed_sample_counts_whole_disks_and_real_interfaces() -> None:
    reading = parse_sample(V1)
    vda = next(line.split() for line in sections(V1)["diskstats"] if line.split()[2] == "vda")
    assert (reading.disk_read, reading.disk_write) == (int(vda[5]) * 512, int(vda[9]) * 512)
    eth0 = next(line.split(":")[1].split() for line in sections(V1)["netdev"] if "eth0:" in line)
    assert (reading.net_rx, reading.net_tx) == (int(eth0[0]), int(eth0[8]))  # lo and docker0 are not counted


def test_df_lists_each_mount_once() -> None:
    reading = parse_sample(V1)  # `df -Pk / /tmp`: /tmp is on /
    assert [mount.path for mount in reading.mounts] == ["/"]
    mount = reading.mounts[0]
    assert (mount.total, mount.used, mount.free) == (264212084 * 1024, 24348304 * 1024, 82042608 * 1024)


def test_cgroup_v1_container_is_joined_to_docker_ps() -> None:
    [container] = parse_sample(V1).containers
    assert (container.id, container.name, container.state, container.image) == (
        BUSY_ID[:12], "f1-probe-busy", "running", "tomo-test/busybox:1")
    assert container.cgroup_version == 1 and container.cpu_ns == 2779335704
    assert container.memory == 507904 and container.memory_limit is None  # v1's "unlimited" is 2**63 - 4096
    assert (container.pids, container.io_read, container.io_write) == (1, 0, 0)
    assert (container.net_rx, container.net_tx) == (806, 0)


def test_cgroup_v2_container_figures() -> None:
    [container] = parse_sample(v2_sample()).containers
    assert container.cgroup_version == 2 and container.cpu_ns == 2779335000
    assert container.memory == 73400320 - 4194304 and container.memory_limit == 134217728
    assert (container.io_read, container.io_write) == (1048576 + 4096, 2097152)
    assert (container.pids, container.net_rx, container.net_tx) == (3, 5000, 7000)


def test_container_without_readable_cgroup_has_no_figures() -> None:
    [container] = parse_sample(V1.replace(f"@@cg {BUSY_ID}", "@@cg other")).containers
    assert container.name == "f1-probe-busy" and container.cpu_ns is None and container.memory is None


def test_partitions_and_virtual_devices_are_not_counted_twice() -> None:
    text = "@@diskstats\n" + "\n".join(
        f"   8 {minor} {name} 1 0 {sectors} 0 1 0 {sectors} 0 0 0 0"
        for minor, name, sectors in ((0, "sda", 100), (1, "sda1", 60), (0, "nvme0n1", 10), (1, "nvme0n1p1", 5),
                                     (0, "mmcblk0", 1), (1, "mmcblk0p2", 1), (0, "loop0", 999), (0, "dm-0", 999)))
    reading = parse_sample(text)
    assert reading.disk_read == reading.disk_write == (100 + 10 + 1) * 512


def test_mount_points_with_spaces_and_temperatures() -> None:
    text = ("@@df\nFilesystem 1024-blocks Used Available Capacity Mounted on\n"
            "/dev/sdb1 100 40 60 40% /mnt/my disk\n@@temps\n45000 x86_pkg_temp\n-1000 acpitz\n999999 bogus\n")
    reading = parse_sample(text)
    assert [(m.path, m.used) for m in reading.mounts] == [("/mnt/my disk", 40 * 1024)]
    assert reading.temperatures == [("x86_pkg_temp", 45.0), ("acpitz", -1.0)]


def test_unreadable_lines_cost_a_figure_not_the_sample() -> None:
    garbled = V1.replace("MemTotal:", "MemTotal: lots").replace("@@loadavg\n", "@@loadavg\nnot numbers\n")
    reading = parse_sample(garbled)
    assert reading.memory_total is None and reading.load is None and reading.cpu_count == 2


def test_parsing_is_linear_on_hostile_output() -> None:
    lines = ["@@stat", "cpu " + "9" * 100_000, *("x" * 50 for _ in range(100_000)),
             "@@ps", *('{"ID":"' + "a" * 1000 for _ in range(2_000)), "@@df", "/ 1 2 3 4% " * 20_000]
    started = time.perf_counter()
    parse_sample("\n".join(lines))
    assert time.perf_counter() - started < 2.0

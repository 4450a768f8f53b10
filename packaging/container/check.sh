#!/usr/bin/env bash
# Check the built tensiond image end to end with podman (build it first: build.sh).
#
#   packaging/container/check.sh
#
# 1. the image's user is not root; `tensiond --help`; `tensiond check-config` on the baked config;
#    `tensiond score` with no network (the encoder and head load from inside the image);
# 2. the daemon, as the image runs it (entrypoint, baked env, health check), with a config mounted
#    over /etc/tensiond/tensiond.yaml (http.listen 0.0.0.0:9464, one feed, no Slack token so
#    alerts go to the console), a named volume on /var/lib/tensiond, a read-only root and no
#    capabilities; it waits for `podman healthcheck run` to pass, for /readyz, and for the alert,
#    then sends SIGHUP and waits for the reload;
# 3. `podman stop` (SIGTERM): a clean exit 0; the database is on the volume, owned by uid 10001;
# 4. a second container on the same volume polls the same feed and alerts nothing again.
# Everything it made is removed at the end, also on failure (TENSIOND_CHECK_KEEP=1 keeps it).
#
# Networking: no container here has a network of its own. The feed server (python3's http.server
# from the same image) runs with --network none, and the daemon joins its namespace, so the feed
# and the health endpoint are on 127.0.0.1 inside it and no packet leaves this machine, nor goes
# through podman's bridge (a private-range subnet this workplace does not allow as a target).
#
# The last lines it prints are "result: key=value"; it exits non-zero at the first failed step.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGE=${IMAGE:-tensiond:local}
export CONTAINERS_CONF="$HERE/containers.conf"
RUN_ID="tensiond-check-$$"
DAEMON="$RUN_ID"
FEEDS="$RUN_ID-feeds"
VOLUME="$RUN_ID-state"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/$RUN_ID.XXXXXX")
READY_TIMEOUT=${TENSIOND_CHECK_READY_TIMEOUT:-240}
ALERT_TIMEOUT=${TENSIOND_CHECK_ALERT_TIMEOUT:-120}

say() { printf '[check] %s\n' "$*"; }
fail() { printf '[check] FAILED: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# Without systemd as PID 1, podman cannot schedule the image's health check with a timer and
# says so on every start and removal; those lines are expected here and filtered out.
quiet() { "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }

cleanup() {
  local status=$?
  if [[ ${TENSIOND_CHECK_KEEP:-0} == 1 ]]; then
    say "kept: containers $DAEMON $DAEMON-again $FEEDS, volume $VOLUME, files $WORK"
    return
  fi
  for name in "$DAEMON" "$DAEMON-again" "$FEEDS"; do
    if podman container exists "$name" 2>/dev/null; then
      if ((status != 0)); then
        say "logs of $name (last 40 lines):"
        podman logs "$name" 2>&1 | tail -n 40 | sed 's/^/    /'
      fi
      quiet podman rm --force --volumes --time 5 "$name" >/dev/null || true
    fi
  done
  podman volume rm --force "$VOLUME" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v podman >/dev/null || fail "podman is not installed (apt-get install podman runc)"
podman image exists "$IMAGE" || fail "no image $IMAGE: run packaging/container/build.sh first"
# One-shot containers: no network at all, no health check schedule.
once() { quiet podman run --rm --network none --no-healthcheck "$@"; }

# --- 1. the image ------------------------------------------------------------------------------
image_user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
id_line=$(once --entrypoint id "$IMAGE")
say "image user $image_user; in the container: $id_line"
[[ $id_line == uid=10001\(tensiond\)* ]] || fail "the container does not run as tensiond (10001)"

once "$IMAGE" --help >"$WORK/help.txt" || fail "tensiond --help"
grep -q 'healthcheck' "$WORK/help.txt" || fail "tensiond --help does not list its commands"
say "tensiond --help: ok ($(wc -l <"$WORK/help.txt") lines)"

config_line=$(once "$IMAGE" check-config /etc/tensiond/tensiond.yaml) \
  || fail "tensiond check-config /etc/tensiond/tensiond.yaml"
say "tensiond check-config /etc/tensiond/tensiond.yaml: $config_line"
listen=$(once --entrypoint sh "$IMAGE" -c "grep -E '^  listen:' /etc/tensiond/tensiond.yaml")
say "baked http.listen: ${listen#*listen: }"

start=$(now)
once "$IMAGE" score "North Korea test-fires two ballistic missiles into the sea, Seoul says" \
  >"$WORK/score.txt" 2>"$WORK/score.err" || { cat "$WORK/score.err" >&2; fail "tensiond score"; }
score_seconds=$(since "$start")
say "tensiond score, offline, in ${score_seconds}s:"
sed 's/^/    /' "$WORK/score.txt"
grep -q 'weapons_test' "$WORK/score.txt" || fail "tensiond score did not find a weapons test"

# --- 2. the daemon -------------------------------------------------------------------------------
mkdir -p "$WORK/feeds"
published=$(date -u -R)
cat >"$WORK/feeds/world.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Container check wire</title><link>https://check.invalid/</link>
<description>tensiond container check</description>
<item><title>North Korea test-fires two ballistic missiles into the sea, Seoul's military says</title>
<link>https://check.invalid/kp-missiles</link><guid isPermaLink="false">check-kp-missiles</guid>
<pubDate>$published</pubDate>
<description>South Korea's Joint Chiefs of Staff said the missiles were launched from near Pyongyang.</description></item>
<item><title>Tech shares lift stock markets to a record close</title>
<link>https://check.invalid/markets</link><guid isPermaLink="false">check-markets</guid>
<pubDate>$published</pubDate>
<description>Investors cheered strong quarterly earnings.</description></item>
</channel></rss>
EOF
cat >"$WORK/tensiond.yaml" <<'EOF'
# The container check's config, mounted over /etc/tensiond/tensiond.yaml.
state_dir: ""                      # empty: $STATE_DIRECTORY, the volume
feeds:
  - {name: Check Wire, url: "http://127.0.0.1:8765/world.xml", tags: [wire]}
fetch:
  allow_private_networks: true     # the check's feed server is on the container's loopback
  interval: 1m
alerting:
  default_channel: "#container-check"
http:
  listen: "0.0.0.0:9464"
EOF
chmod -R a+rX "$WORK"
once --volume "$WORK/tensiond.yaml:/etc/tensiond/tensiond.yaml:ro" "$IMAGE" \
  check-config /etc/tensiond/tensiond.yaml >/dev/null || fail "the check's own config is invalid"

podman volume create "$VOLUME" >/dev/null
quiet podman run --detach --name "$FEEDS" --network none --no-healthcheck \
  --volume "$WORK/feeds:/srv:ro" \
  --entrypoint '["/usr/bin/tini", "--", "python3"]' \
  "$IMAGE" -m http.server 8765 --bind 127.0.0.1 --directory /srv >/dev/null

daemon_options=(
  --network "container:$FEEDS"
  --volume "$VOLUME:/var/lib/tensiond"
  --volume "$WORK/tensiond.yaml:/etc/tensiond/tensiond.yaml:ro"
  --read-only --cap-drop ALL --security-opt no-new-privileges
  --env SLACK_BOT_TOKEN=
)
say "starting the daemon: podman run --detach ${daemon_options[*]} $IMAGE"
start=$(now)
quiet podman run --detach --name "$DAEMON" "${daemon_options[@]}" "$IMAGE" >/dev/null

readyz() {
  podman exec "$1" python3 -c \
    "import urllib.request as r; r.urlopen('http://127.0.0.1:9464/readyz', timeout=5)" 2>/dev/null
}
running() { [[ $(podman inspect --format '{{.State.Running}}' "$1") == true ]]; }
# A container's log, whole (grep -q on a pipe would stop podman early: a SIGPIPE under pipefail).
logs() { podman logs "$1" 2>&1 || true; }

healthy_seconds=""
ready_seconds=""
deadline=$(($(date +%s) + READY_TIMEOUT))
while [[ -z $ready_seconds ]]; do
  running "$DAEMON" || fail "the daemon exited before it was ready"
  (($(date +%s) < deadline)) || fail "not ready within ${READY_TIMEOUT}s"
  if [[ -z $healthy_seconds ]] && quiet podman healthcheck run "$DAEMON" >/dev/null 2>&1; then
    healthy_seconds=$(since "$start")
    say "podman healthcheck run: healthy after ${healthy_seconds}s"
  fi
  if [[ -n $healthy_seconds ]] && readyz "$DAEMON"; then
    ready_seconds=$(since "$start")
    say "/readyz: ready (config, database, model) after ${ready_seconds}s"
  fi
  [[ -n $ready_seconds ]] || sleep 0.5
done
quiet podman healthcheck run "$DAEMON" || fail "podman healthcheck run failed once ready"
health_status=$(podman inspect --format '{{.State.Health.Status}}' "$DAEMON")
[[ $health_status == healthy ]] || fail "podman reports the container as $health_status"
say "podman inspect: State.Health.Status=$health_status"

alert_seconds=""
deadline=$(($(date +%s) + ALERT_TIMEOUT))
while [[ -z $alert_seconds ]]; do
  if grep -q '^ALERT #container-check' <<<"$(logs "$DAEMON")"; then
    alert_seconds=$(since "$start")
  else
    running "$DAEMON" || fail "the daemon exited before it alerted"
    (($(date +%s) < deadline)) || fail "no console alert within ${ALERT_TIMEOUT}s"
    sleep 1
  fi
done
say "console alert after ${alert_seconds}s:"
grep -A4 '^ALERT #container-check' <<<"$(logs "$DAEMON")" | sed 's/^/    /'
if grep -q -i '^ALERT.*stock' <<<"$(logs "$DAEMON")"; then
  fail "the markets story alerted"
fi

podman kill --signal HUP "$DAEMON" >/dev/null
deadline=$(($(date +%s) + 30))
until grep -q 'reload_applied' <<<"$(logs "$DAEMON")"; do
  running "$DAEMON" || fail "the daemon exited on SIGHUP"
  (($(date +%s) < deadline)) || fail "no reload_applied within 30s of SIGHUP"
  sleep 0.5
done
say "SIGHUP (podman kill --signal HUP): the config was reloaded"

processes=$(podman top "$DAEMON" user huser pid hpid args)
say "processes (user in the container, user on the host):"
printf '    %s\n' "${processes//$'\n'/$'\n'    }"
if awk 'NR > 1 && ($1 == "root" || $2 == "root" || $2 == "0")' <<<"$processes" | grep -q .; then
  fail "a process runs as root"
fi
process_user=$(awk 'NR == 2 {print $1 "/" $2}' <<<"$processes")

# --- 3. stop ------------------------------------------------------------------------------------
start=$(now)
quiet podman stop --time 30 "$DAEMON" >/dev/null
stop_seconds=$(since "$start")
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$DAEMON")
grep -q 'stopping reason=signal' <<<"$(logs "$DAEMON")" || fail "no 'stopping reason=signal' in the log"
say "podman stop: exit code $exit_code after ${stop_seconds}s"
[[ $exit_code == 0 ]] || fail "the daemon exited with $exit_code on SIGTERM"

volume_path=$(podman volume inspect --format '{{.Mountpoint}}' "$VOLUME")
say "the volume $VOLUME ($volume_path):"
# shellcheck disable=SC2012  # a listing for a person to read
ls -ln "$volume_path" | sed 's/^/    /'
database=$(find "$volume_path" -maxdepth 1 -name '*.db' -uid 10001 | head -n1)
[[ -n $database ]] || fail "no database owned by uid 10001 on the volume"

# --- 4. a new container, the same volume: nothing alerts twice -----------------------------------
quiet podman rm --volumes "$DAEMON" >/dev/null
quiet podman run --detach --name "$DAEMON-again" "${daemon_options[@]}" "$IMAGE" >/dev/null
deadline=$(($(date +%s) + READY_TIMEOUT))
# Its first poll waits for the feed's next due time, kept in the database (about a minute here).
until grep -q 'poll_cycle' <<<"$(logs "$DAEMON-again")"; do
  running "$DAEMON-again" || fail "the second daemon exited"
  (($(date +%s) < deadline)) || fail "the second daemon did not poll within ${READY_TIMEOUT}s"
  sleep 1
done
sleep 3   # the outbox is checked every 2 s
again_log=$(logs "$DAEMON-again")
polled=$(grep -m1 'feed_polled' <<<"$again_log" || true)
say "second container on the same volume: ${polled#*pipeline: }"
if grep -q '^ALERT' <<<"$again_log"; then
  fail "the second container alerted the same story again"
fi
quiet podman stop --time 30 "$DAEMON-again" >/dev/null
say "no alert repeated: the state lives on the volume"

say "all checks passed"
echo "result: image=$IMAGE"
echo "result: user=$process_user image_user=$image_user"
echo "result: healthy_seconds=$healthy_seconds ready_seconds=$ready_seconds alert_seconds=$alert_seconds"
echo "result: score_seconds=$score_seconds stop_seconds=$stop_seconds exit_code=$exit_code"
echo "result: health_status=$health_status"
echo "result: ok"

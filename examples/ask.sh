#!/usr/bin/env bash
# Ask a wisp device from the shell and print the answer as it streams. Needs only the Mosquitto
# command-line clients (apt install mosquitto-clients) and bash 4+: no jq, no python.
#
#   examples/ask.sh [-h HOST] [-p PORT] [-d DEVICE] [-n MAX_TOKENS] [-t TEMP] "Once upon a time"
#
# How: mosquitto_sub listens (in the background) on the request's reply topic
# wisp/<device>/reply/<id> and on the device's retained status topic; the status message, which the
# broker sends right after the subscription, says the device is online and that we are listening,
# and only then mosquitto_pub sends the request. Each reply is one JSON line: the {id, seq, text}
# chunks are printed as they come, the final message ends the answer. Ctrl-C sends a cancel.
# Environment: WISP_HOST, WISP_PORT, WISP_DEVICE; WISP_USER + WISP_BROKER_PASSWORD for a broker
# with users; WISP_TIMEOUT (seconds without a message before giving up, default 60).
set -euo pipefail

host=${WISP_HOST:-127.0.0.1}
port=${WISP_PORT:-1883}
# `wisp serve` names the device after the host by default
device=${WISP_DEVICE:-$(hostname | sed 's/[^A-Za-z0-9._-]/-/g; s/^[^A-Za-z0-9]*//' | cut -c1-64)}
max_tokens=128
temperature=
timeout=${WISP_TIMEOUT:-60}

usage() {
  echo "usage: $0 [-h host] [-p port] [-d device] [-n max_tokens] [-t temperature] \"prompt\"" >&2
  exit 2
}
while getopts 'h:p:d:n:t:' o; do
  case $o in
    h) host=$OPTARG ;;
    p) port=$OPTARG ;;
    d) device=$OPTARG ;;
    n) max_tokens=$OPTARG ;;
    t) temperature=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[[ $# -ge 1 ]] || usage
prompt="$*"
[[ $max_tokens =~ ^[1-9][0-9]*$ ]] || { echo "max_tokens must be a positive integer" >&2; exit 2; }
[[ -z $temperature || $temperature =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "temperature must be a number" >&2; exit 2; }

# JSON string: escape backslash, quote and control characters
json_string() {
  local s=$1 out='' c i
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  if [[ $s == *[[:cntrl:]]* ]]; then
    for ((i = 0; i < ${#s}; i++)); do
      c=${s:i:1}
      if [[ $c == [[:cntrl:]] ]]; then out+=$(printf '\\u%04x' "'$c"); else out+=$c; fi
    done
    s=$out
  fi
  printf '"%s"' "$s"
}

# The "text" of a reply line, unescaped. JSON.stringify escapes only ", \ and control characters,
# and `printf %b` undoes all of those but \" (done first: a " inside a JSON string is always \").
text_of() {
  local re='"text":"(([^"\\]|\\.)*)"'
  [[ $1 =~ $re ]] || return 0
  local t=${BASH_REMATCH[1]}
  t=${t//\\\"/\"}
  printf '%b' "$t"
}
# A raw JSON value of a reply line (numbers and objects without strings: usage, timings).
field() {
  local re="\"$1\":(\\{[^}]*\\}|\"[^\"]*\"|[^,}]*)"
  [[ $2 =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}"
}

id="sh-$$-$RANDOM"
# request and cancel go out under the same MQTT client id: the embedded broker lets a client
# cancel only its own requests
client_id="wisp-ask-sh-$$-$RANDOM"
auth=()
if [[ -n ${WISP_USER:-} ]]; then
  auth=(-u "$WISP_USER" -P "${WISP_BROKER_PASSWORD:-}")
  reply="wisp/$device/reply/$WISP_USER/$id" # with broker users the device replies only here
else
  reply="wisp/$device/reply/$id"
fi
request="{\"id\":\"$id\",\"client\":\"$client_id\",\"prompt\":$(json_string "$prompt"),\"max_tokens\":$max_tokens${temperature:+,\"temperature\":$temperature}}"

dir=$(mktemp -d)
sub_pid=
cleanup() {
  [[ -n $sub_pid ]] && kill "$sub_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
mkfifo "$dir/replies"
# -v: "topic payload" per line. `set -m` starts it in its own process group, so Ctrl-C (which the
# terminal sends to the foreground group) leaves it running to receive the final message after the
# cancel.
set -m
mosquitto_sub -h "$host" -p "$port" "${auth[@]}" -q 1 -v -t "wisp/$device/status" -t "$reply" >"$dir/replies" &
sub_pid=$!
set +m
exec 3<"$dir/replies"

cancelled=
interrupted=
on_int() {
  if [[ -n $cancelled ]]; then exit 130; fi
  cancelled=1
  interrupted=1
  echo >&2
  echo "[cancelling; Ctrl-C again to quit]" >&2
  mosquitto_pub -h "$host" -p "$port" "${auth[@]}" -i "$client_id" -q 1 -t "wisp/$device/cancel" -m "{\"id\":\"$id\"}"
}
trap on_int INT

sent=
while :; do
  interrupted=
  status=0
  IFS= read -r -t "$timeout" -u 3 line || status=$?
  if ((status != 0)); then
    [[ -n $interrupted ]] && continue # Ctrl-C interrupted the read: wait for the final message
    if ((status <= 128)); then
      echo "mosquitto_sub stopped (cannot reach the broker at $host:$port?)" >&2
    elif [[ -z $sent ]]; then
      echo "no status from device '$device' on $host:$port within ${timeout}s (is it serving? -d names the device)" >&2
    else
      echo "no reply from '$device' for ${timeout}s" >&2
    fi
    exit 1
  fi
  topic=${line%% *}
  payload=${line#* }
  if [[ $topic == "wisp/$device/status" ]]; then
    [[ -n $sent ]] && continue # a later status update
    if [[ $payload != *'"online":true'* ]]; then
      echo "device '$device' is offline" >&2
      exit 1
    fi
    mosquitto_pub -h "$host" -p "$port" "${auth[@]}" -i "$client_id" -q 1 -t "wisp/$device/infer" -m "$request"
    sent=1
    continue
  fi
  if [[ $payload == *'"error":{'* ]]; then
    echo "$device: $(field code "$payload"): $(field message "$payload")" >&2
    exit 1
  fi
  if [[ $payload == *'"done":true'* ]]; then
    echo
    finish=$(field finish_reason "$payload")
    echo "$device: finish ${finish//\"/}, usage $(field usage "$payload")" >&2
    echo "timings $(field timings "$payload")" >&2
    [[ -z $cancelled ]] || exit 130
    exit 0
  fi
  text_of "$payload"
done

#!/usr/bin/env bash
# One request, one answer: mosquitto_rr (MQTT 5 request/response, from mosquitto-clients 1.6+)
# sends the prompt with "stream": false and a Response Topic, and waits for the single final
# message. Prints the answer's text; with -j, the whole final message (JSON) instead.
#
#   examples/ask-rr.sh [-h HOST] [-p PORT] [-d DEVICE] [-n MAX_TOKENS] [-t TEMP] [-j] "Once upon a time"
#
# Environment: WISP_HOST, WISP_PORT, WISP_DEVICE; WISP_USER + WISP_BROKER_PASSWORD for a broker
# with users; WISP_TIMEOUT (seconds to wait for the answer, default 60).
set -euo pipefail

host=${WISP_HOST:-127.0.0.1}
port=${WISP_PORT:-1883}
device=${WISP_DEVICE:-$(hostname | sed 's/[^A-Za-z0-9._-]/-/g; s/^[^A-Za-z0-9]*//' | cut -c1-64)}
max_tokens=128
temperature=
json=
timeout=${WISP_TIMEOUT:-60}

usage() {
  echo "usage: $0 [-h host] [-p port] [-d device] [-n max_tokens] [-t temperature] [-j] \"prompt\"" >&2
  exit 2
}
while getopts 'h:p:d:n:t:j' o; do
  case $o in
    h) host=$OPTARG ;;
    p) port=$OPTARG ;;
    d) device=$OPTARG ;;
    n) max_tokens=$OPTARG ;;
    t) temperature=$OPTARG ;;
    j) json=1 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[[ $# -ge 1 ]] || usage
prompt="$*"
[[ $max_tokens =~ ^[1-9][0-9]*$ ]] || { echo "max_tokens must be a positive integer" >&2; exit 2; }
[[ -z $temperature || $temperature =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "temperature must be a number" >&2; exit 2; }

json_string() { # (as in ask.sh)
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

id="rr-$$-$RANDOM"
auth=()
if [[ -n ${WISP_USER:-} ]]; then
  auth=(-u "$WISP_USER" -P "${WISP_BROKER_PASSWORD:-}")
  reply="wisp/$device/reply/$WISP_USER/$id"
else
  reply="wisp/$device/reply/$id"
fi
request="{\"id\":\"$id\",\"prompt\":$(json_string "$prompt"),\"max_tokens\":$max_tokens${temperature:+,\"temperature\":$temperature},\"stream\":false}"

answer=$(mosquitto_rr -h "$host" -p "$port" "${auth[@]}" -V 5 -q 1 -W "$timeout" -t "wisp/$device/infer" -e "$reply" -m "$request") || {
  echo "no answer from device '$device' on $host:$port within ${timeout}s" >&2
  exit 1
}
if [[ -n $json ]]; then
  printf '%s\n' "$answer"
  exit 0
fi
re='"error":\{"code":"([^"]*)","message":"(([^"\\]|\\.)*)"'
if [[ $answer =~ $re ]]; then
  echo "$device: ${BASH_REMATCH[1]}: ${BASH_REMATCH[2]}" >&2
  exit 1
fi
re='"text":"(([^"\\]|\\.)*)"'
[[ $answer =~ $re ]] || { echo "unexpected answer: $answer" >&2; exit 1; }
text=${BASH_REMATCH[1]}
text=${text//\\\"/\"}
printf '%b\n' "$text"
re='"usage":(\{[^}]*\}).*"timings":(\{[^}]*\})'
[[ $answer =~ $re ]] && echo "$device: usage ${BASH_REMATCH[1]} timings ${BASH_REMATCH[2]}" >&2
exit 0

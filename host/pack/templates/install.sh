#!/bin/sh
# Installs this wisp bundle as a systemd service (docs/DEPLOY.md), or rolls back to the previous one.
#
#   sudo ./install.sh               install or upgrade, then (re)start wisp.service
#   sudo ./install.sh --no-start    install, do not start
#   sudo /opt/wisp/current/install.sh --rollback   back to the release installed before
#   ./install.sh --root DIR         lay the files out under DIR instead of / (an image, a test):
#                                   no user is created, systemctl is not called
#
# Layout: /opt/wisp/releases/<bundle id>/ (this folder), /opt/wisp/current and /opt/wisp/previous
# (symlinks to releases), /etc/wisp/ (wisp.env, users.json, keys/: kept across upgrades),
# /var/lib/wisp/ (state, models), /etc/systemd/system/wisp.service, /usr/local/bin/wisp.
# Running it again with the same bundle changes nothing; an upgrade keeps the release it replaces
# for --rollback and removes older ones.
set -eu

BUNDLE_ID='{{BUNDLE_ID}}'
MACHINE='{{UNAME_MACHINE}}'
MEM_PERCENT='{{MEM_PERCENT}}'
MEM_BUDGET_MIB='{{MEM_BUDGET_MIB}}'

root=''
start=1
action=install
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || { echo "install.sh: --root needs a directory" >&2; exit 2; }; root=${2%/}; shift 2 ;;
    --no-start) start=0; shift ;;
    --rollback) action=rollback; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (--help lists them)" >&2; exit 2 ;;
  esac
done

say() { printf 'wisp install: %s\n' "$*"; }
die() { printf 'wisp install: %s\n' "$*" >&2; exit 1; }

opt="$root/opt/wisp"
etc="$root/etc/wisp"
state="$root/var/lib/wisp"
unit="$root/etc/systemd/system/wisp.service"
bin="$root/usr/local/bin"
here=$(cd "$(dirname "$0")" && pwd -P)

if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then die "run it as root (sudo $0)"; fi
# With --root nothing outside DIR is touched: no user, no systemctl.
real_system() { [ -z "$root" ]; }
systemd_running() { real_system && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

restart_service() {
  if [ "$start" -eq 0 ]; then say "not started (--no-start): sudo systemctl restart wisp"; return; fi
  if systemd_running; then
    systemctl daemon-reload
    systemctl enable wisp.service >/dev/null 2>&1 || true
    systemctl restart wisp.service
    say "wisp.service restarted; logs: journalctl -u wisp -f"
  elif real_system; then
    say "systemd is not running here: start it with /opt/wisp/current/bin/wisp serve"
  fi
}

# Atomic symlink switch: a new link beside the old one, then rename over it.
relink() { ln -sfn "$1" "$2.new" && mv -fT "$2.new" "$2"; }

if [ "$action" = rollback ]; then
  [ -L "$opt/previous" ] || die "no previous release to roll back to in $opt"
  cur=$(readlink "$opt/current")
  prev=$(readlink "$opt/previous")
  [ -d "$opt/$prev" ] || die "the previous release $opt/$prev is gone"
  relink "$prev" "$opt/current"
  relink "$cur" "$opt/previous"
  say "rolled back: current -> $prev (previous -> $cur; install.sh --rollback again undoes it)"
  restart_service
  exit 0
fi

# --- install or upgrade -------------------------------------------------------------------------
case "$(uname -m)" in
  "$MACHINE") ;;
  *) die "this bundle is for $MACHINE, this machine is $(uname -m): pack one with wisp pack --arch" ;;
esac
if [ ! -x "$here/node/bin/node" ] && ! command -v node >/dev/null 2>&1; then
  die "this bundle carries no Node runtime and node is not on the PATH: install Node >= 20 or pack with --with-node"
fi

if real_system && ! id -u wisp >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/wisp --no-create-home --shell /usr/sbin/nologin wisp
  say "created the system user wisp"
fi
owner() { if real_system; then chown "$@"; fi; }

mkdir -p "$opt/releases" "$bin" "$(dirname "$unit")"
release="$opt/releases/$BUNDLE_ID"
if [ "$here" = "$(cd "$release" 2>/dev/null && pwd -P)" ]; then
  say "running from the installed release $BUNDLE_ID"
elif [ -d "$release" ]; then
  say "release $BUNDLE_ID is already installed"
else
  rm -rf "$opt/releases/.partial-"*
  tmp="$opt/releases/.partial-$BUNDLE_ID"
  mkdir "$tmp"
  cp -a "$here/." "$tmp/"
  if [ "$(id -u)" -eq 0 ]; then chown -R 0:0 "$tmp"; fi
  chmod -R go-w "$tmp"
  mv "$tmp" "$release"
  say "installed release $BUNDLE_ID in $release"
fi

# Configuration: created once, never overwritten.
mkdir -p "$etc/keys"
chmod 750 "$etc" "$etc/keys"
owner root:wisp "$etc" "$etc/keys"
if [ ! -e "$etc/wisp.env" ]; then
  cp "$release/deploy/wisp.env" "$etc/wisp.env"
  chmod 640 "$etc/wisp.env"
  owner root:wisp "$etc/wisp.env"
  say "wrote the default configuration $etc/wisp.env"
elif ! cmp -s "$release/deploy/wisp.env" "$etc/wisp.env"; then
  cp "$release/deploy/wisp.env" "$etc/wisp.env.default"
  say "kept $etc/wisp.env; this release's default is in wisp.env.default"
fi
if [ ! -e "$etc/keys/README" ]; then
  printf '%s\n' 'Trusted public keys for signed kernel modules (hot kernel swap, wisp issue #14).' \
    'Reserved: wisp does not read this folder yet. install.sh keeps it across upgrades.' >"$etc/keys/README"
fi
mkdir -p "$state/models"
chmod 750 "$state"
owner -R wisp:wisp "$state"

# The unit, with MemoryMax from the profile's budget and this machine's memory.
memory_max=''
if [ -n "$MEM_PERCENT" ] || [ -n "$MEM_BUDGET_MIB" ]; then
  total_mib=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
  memory_max=$MEM_BUDGET_MIB
  if [ -n "$MEM_PERCENT" ]; then
    share=$((total_mib * MEM_PERCENT / 100))
    if [ -z "$memory_max" ] || [ "$share" -lt "$memory_max" ]; then memory_max=$share; fi
  fi
fi
if [ -n "$memory_max" ]; then
  sed "s/^MemoryMax=.*/MemoryMax=${memory_max}M/" "$release/deploy/wisp.service" >"$unit.new"
else
  cp "$release/deploy/wisp.service" "$unit.new"
fi
chmod 644 "$unit.new"
mv -f "$unit.new" "$unit"

# Switch: the release it replaces becomes `previous`; older releases are removed.
old=$(readlink "$opt/current" 2>/dev/null || true)
if [ "$old" != "releases/$BUNDLE_ID" ]; then
  if [ -n "$old" ] && [ -d "$opt/$old" ]; then relink "$old" "$opt/previous"; fi
  relink "releases/$BUNDLE_ID" "$opt/current"
  say "current -> releases/$BUNDLE_ID${old:+ (previous -> $old)}"
fi
keep_prev=$(readlink "$opt/previous" 2>/dev/null || true)
for dir in "$opt/releases/"*; do
  [ -d "$dir" ] || continue
  rel="releases/$(basename "$dir")"
  if [ "$rel" != "releases/$BUNDLE_ID" ] && [ "$rel" != "$keep_prev" ]; then
    rm -rf "$dir"
    say "removed the old release $rel"
  fi
done
relink /opt/wisp/current/bin/wisp "$bin/wisp"

restart_service
say "done: config $etc/wisp.env, users $etc/users.json (wisp user add), kernel keys $etc/keys/"

#!/usr/bin/env bash
# hvsleuth sample lab: a miniature Hyper-V failover cluster built from Linux network
# namespaces, real Samba (SMB 3.1.1) and real Linux TCP, captured per node into pcapng.
#
# Usage (as root):  samples/lab/lab.sh [-o OUTDIR] [-k] [SCENARIO ...]
#   SCENARIO   one or more of: baseline restore-flood restore-constrained sofs-redirect
#              live-migration heartbeat-loss multichannel   (default: all, one after the other)
#   -o OUTDIR  where <scenario>/<node>.pcapng go (default: the samples/ directory)
#   -k         keep the work directory (/tmp/hvlab.PID: smbd logs, RTT logs)
#   -p         run the scenarios in parallel (faster, but on a loaded machine netlink and
#              CPU contention stretch the timeline; the committed captures ran one by one)
#
# Needs: iproute2 (ip, tc with htb/tbf/u32/mirred), samba (smbd, pdbedit), smbclient,
# dumpcap (wireshark-common), ethtool, python3. See samples/README.md.
#
# Traffic goes only between the namespaces this script creates (hvl-<scenario>-<node>);
# every namespace is torn down on exit.
#
#   samples/lab/lab.sh --random SEED [-o OUTDIR] [--snaplen-max N] [--plan]
#              a randomised cluster instead (samples/lab/random_lab.py: names, networks,
#              addressing, cadence, NetFT tunnel, snaplen, gzip, clock offsets, incidents)
set -euo pipefail

LAB_DIR=$(cd "$(dirname "$0")" && pwd)
if [[ ${1:-} == --random ]]; then shift; exec python3 "$LAB_DIR/random_lab.py" "$@"; fi
OUT=$(dirname "$LAB_DIR")
KEEP=0
PARALLEL=0
while getopts "o:kp" opt; do
  case $opt in
    o) OUT=$(mkdir -p "$OPTARG" && cd "$OPTARG" && pwd) ;;
    k) KEEP=1 ;;
    p) PARALLEL=1 ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
ALL_SCENARIOS="baseline restore-flood restore-constrained sofs-redirect live-migration heartbeat-loss multichannel"
SCENARIOS=${*:-$ALL_SCENARIOS}

WORK=/tmp/hvlab.$$
mkdir -p "$WORK"
PY=$(command -v python3)
TRAFFIC="$PY $LAB_DIR/labtraffic.py"
SMBUSER=hvlab
SMBPASS='Lab-Passw0rd!'

# ---------------------------------------------------------------- addressing plan
# Link speeds are scaled down 1:1000 so captures stay small: "1 GbE" = 1 Mbit/s,
# "10 GbE" = 10 Mbit/s (inventory.toml keeps the unscaled speeds).
declare -A RATE=([mgmt]=1mbit [cluster]=1mbit [storage]=10mbit)
declare -A NETNO=([mgmt]=1 [cluster]=2 [storage]=3)
declare -A V4NET=([mgmt]=10.10.0 [cluster]=172.30.1 [storage]=172.30.2)
declare -A V6NET=([cluster]=fd4c:6162:0:1 [storage]=fd4c:6162:0:2)
declare -A HOSTNO=([node1]=11 [node2]=12 [node3]=13 [host1]=21 [admin]=100)
declare -A SHORT=([node1]=n1 [node2]=n2 [node3]=n3 [host1]=h1 [admin]=ad)
declare -A IFACES=([node1]="mgmt cluster storage" [node2]="mgmt cluster storage"
                   [node3]="mgmt cluster storage" [host1]="mgmt storage" [admin]="mgmt")
NODES="node1 node2 node3"

v4() { echo "${V4NET[$2]}.${HOSTNO[$1]}"; }          # v4 NODE NET
v6() { echo "${V6NET[$2]}::${HOSTNO[$1]}"; }         # v6 NODE NET
mac() { printf '02:48:56:%02x:%02x:00' "${NETNO[$2]}" "${HOSTNO[$1]}"; }

ns() { echo "hvl-$1-$2"; }                            # ns SCENARIO NODE
swport() { echo "${SHORT[$1]}-$2"; }                  # switch-side veth name

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- topology
shape() { # shape NS DEV RATE  -- token bucket: the link's (scaled) line rate
  local burst=3000; [[ $3 == 10mbit ]] && burst=12500   # ~10 ms of line rate, at least 2 frames
  ip netns exec "$1" tc qdisc replace dev "$2" root tbf rate "$3" burst $burst latency 150ms
}

no_offload() { # frames on the capture must be wire-sized: no TSO/GSO/GRO on veths
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
}

add_host() { # add_host SC NODE
  local sc=$1 node=$2 n sw net dev port
  n=$(ns "$sc" "$node"); sw=$(ns "$sc" sw)
  ip netns add "$n"
  ip -n "$n" link set lo up
  ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  for net in ${IFACES[$node]}; do
    dev=$net; port=$(swport "$node" "$net")
    ip link add name "$dev" netns "$n" type veth peer name "$port" netns "$sw"
    ip -n "$n" link set "$dev" address "$(mac "$node" "$net")"
    ip -n "$sw" link set "$port" master "br-$net" up
    ip -n "$n" link set "$dev" up
    ip -n "$n" addr add "$(v4 "$node" "$net")/24" dev "$dev"
    if [[ -n ${V6NET[$net]:-} ]]; then
      ip -n "$n" addr add "$(v6 "$node" "$net")/64" dev "$dev" nodad
    fi
    no_offload "$n" "$dev"; no_offload "$sw" "$port"
    shape "$n" "$dev" "${RATE[$net]}"
    shape "$sw" "$port" "${RATE[$net]}"
  done
}

topo_up() { # topo_up SC HOST...
  local sc=$1; shift
  local sw; sw=$(ns "$sc" sw)
  ip netns add "$sw"
  ip -n "$sw" link set lo up
  ip netns exec "$sw" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  for net in mgmt cluster storage; do
    ip -n "$sw" link add "br-$net" type bridge forward_delay 0 stp_state 0 mcast_snooping 0
    ip -n "$sw" link set "br-$net" up
  done
  for h in "$@"; do add_host "$sc" "$h"; done
}

impair_mgmt_node1() { # impair_mgmt_node1 SC -- the one impaired link (netem is not in this kernel)
  # Switch port towards node1's management NIC, egress (node1's receive direction):
  #  - htb 1 Mbit/s with a 10-packet pfifo: real tail drops when the link is oversubscribed
  #  - 1 in 32 TCP/IPv4 packets (IP ID low 5 bits == 5) goes through a 100 kbit/s class:
  #    it is overtaken by later packets = real reordering
  #  - 1 in 64 TCP packets from node3 to node1 (IP ID low 6 bits == 0x11) is mirrored
  #    straight onto node1's port as well as being bridged = real duplication
  local sw; sw=$(ns "$1" sw)
  local p1 p3; p1=$(swport node1 mgmt); p3=$(swport node3 mgmt)
  ip netns exec "$sw" tc qdisc del dev "$p1" root
  ip netns exec "$sw" tc qdisc add dev "$p1" root handle 1: htb default 10
  ip netns exec "$sw" tc class add dev "$p1" parent 1: classid 1:1 htb rate 1mbit ceil 1mbit burst 3000
  ip netns exec "$sw" tc class add dev "$p1" parent 1:1 classid 1:10 htb rate 900kbit ceil 1mbit burst 3000
  ip netns exec "$sw" tc class add dev "$p1" parent 1:1 classid 1:20 htb rate 100kbit ceil 100kbit burst 1600
  ip netns exec "$sw" tc qdisc add dev "$p1" parent 1:10 handle 10: pfifo limit 10
  ip netns exec "$sw" tc qdisc add dev "$p1" parent 1:20 handle 20: pfifo limit 10
  ip netns exec "$sw" tc filter add dev "$p1" parent 1: protocol ip prio 1 u32 \
    match ip protocol 6 0xff match u16 0x0005 0x001f at 4 flowid 1:20
  ip netns exec "$sw" tc qdisc add dev "$p3" clsact
  ip netns exec "$sw" tc filter add dev "$p3" ingress protocol ip prio 1 u32 \
    match ip protocol 6 0xff match ip dst "$(v4 node1 mgmt)/32" match u16 0x0011 0x003f at 4 \
    action mirred egress mirror dev "$p1"
}

topo_down() { # topo_down SC: stop what this run started in the scenario (by pid), drop its namespaces
  local sc=$1 n p f
  for f in capture bg svc; do
    [[ -f $WORK/$sc/$f.pids ]] || continue
    while read -r p; do kill "$p" 2>/dev/null || true; done <"$WORK/$sc/$f.pids"
  done
  sleep 0.5
  for n in $(ip netns list | awk '{print $1}' | grep "^hvl-$sc-" || true); do
    ip netns del "$n" 2>/dev/null || true
  done
}

cleanup() {
  local sc
  for sc in $ALL_SCENARIOS; do topo_down "$sc"; done
  [[ $KEEP == 1 ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- Samba
ensure_user() {
  id "$SMBUSER" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$SMBUSER"
}

smb_conf() { # smb_conf DIR NODE -> writes DIR/smb.conf
  local d=$1 node=$2 ifs="" net
  for net in ${IFACES[$node]}; do
    # interface speed hints are what FSCTL_QUERY_NETWORK_INTERFACE_INFO reports
    local sp=1000000000; [[ $net == storage ]] && sp=10000000000
    ifs+="\"$net;speed=$sp,capability=RSS\" "
  done
  mkdir -p "$d"/{private,lock,state,cache,run,ncalrpc,csv1,csv2,csv3,vmms-lm}
  chmod 0777 "$d"/{csv1,csv2,csv3,vmms-lm}
  cat >"$d/smb.conf" <<EOF
[global]
  netbios name = ${node^^}
  netbios aliases = SOFS1
  workgroup = LAB
  server role = standalone server
  interfaces = $ifs
  bind interfaces only = yes
  server min protocol = SMB3_11
  server multi channel support = yes
  smb2 max write = 1048576
  smb2 max read = 1048576
  smb ports = 445
  disable netbios = yes
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  map to guest = never
  passdb backend = tdbsam:$d/private/passdb.tdb
  private dir = $d/private
  lock directory = $d/lock
  state directory = $d/state
  cache directory = $d/cache
  pid directory = $d/run
  ncalrpc dir = $d/ncalrpc
  log file = $d/log.smbd
  log level = 1

# One share per CSV, as a Scale-Out File Server exposes them; CSV2's share requires
# SMB encryption, so its traffic carries transform headers (0xFD 'SMB').
[csv1]
  path = $d/csv1
  read only = no
[csv2]
  path = $d/csv2
  read only = no
  smb encrypt = required
[csv3]
  path = $d/csv3
  read only = no
# stand-in for the (undocumented) share a Hyper-V host uses for SMB live migration
[vmms-lm]
  path = $d/vmms-lm
  read only = no
EOF
  printf '%s\n%s\n' "$SMBPASS" "$SMBPASS" | pdbedit -s "$d/smb.conf" -a -u "$SMBUSER" -t >/dev/null
}

smb_start() { # smb_start SC NODE
  local sc=$1 node=$2 d="$WORK/$1/smb-$2" n
  n=$(ns "$sc" "$node")
  smb_conf "$d" "$node"
  # setsid: smbd signals its whole process group when it stops; give it its own
  ip netns exec "$n" setsid smbd --foreground --no-process-group -s "$d/smb.conf" >"$d/stdout" 2>&1 &
  echo $! >>"$WORK/$sc/svc.pids"
  local i
  for i in $(seq 1 100); do
    if ip netns exec "$n" bash -c "exec 3<>/dev/tcp/$(v4 "$node" mgmt)/445" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "$sc: smbd on $node did not come up"; cat "$d/stdout" >&2; return 1
}

client_conf() { # client_conf SC -> path
  local d="$WORK/$1/client"
  mkdir -p "$d"/{lock,state,cache,private}
  cat >"$d/smb.conf" <<EOF
[global]
  client min protocol = SMB3_11
  client max protocol = SMB3_11
  disable netbios = yes
  smb ports = 445
  lock directory = $d/lock
  state directory = $d/state
  cache directory = $d/cache
  private dir = $d/private
EOF
  echo "$d/smb.conf"
}

# smb_put SC FROM SERVERNAME ADDR SHARE LOCALFILE REMOTENAME  (real smbclient, SMB 3.1.1)
smb_put() {
  local sc=$1 from=$2 name=$3 addr=$4 share=$5 file=$6 rname=$7 t
  t=$(rel_t "$sc")
  ip netns exec "$(ns "$sc" "$from")" smbclient "//$name/$share" -I "$addr" -p 445 \
    -U "$SMBUSER%$SMBPASS" -s "$WORK/$sc/client/smb.conf" -m SMB3_11 -t 300 \
    -c "put $file $rname" >>"$WORK/$sc/smbclient.log" 2>&1 || { log "$sc: smbclient $from -> $addr failed"; return 1; }
  echo "t=$t..$(rel_t "$sc") smb-write $from -> \\\\$name\\$share via $addr: $(stat -c %s "$file") bytes ($rname)" \
    >>"$WORK/$sc/timeline.txt"
}

mkfile() { # mkfile PATH BYTES
  head -c "$2" /dev/urandom >"$1"
}

# ---------------------------------------------------------------- captures and background
rel_t() { awk -v t0="$(cat "$WORK/$1/t0")" -v now="$(date +%s.%N)" 'BEGIN{printf "%.1f", now-t0}'; }

capture_start() { # capture_start SC SNAPLEN HOST...
  local sc=$1 snap=$2 h args; shift 2
  for h in "$@"; do
    args=()
    # per NIC: only frames to/from its own MAC plus broadcast/multicast, like a capture on
    # the Windows host itself. (A veth delivers unknown unicast that the bridge floods, e.g.
    # while node3's port is down, to every port, and AF_PACKET sees it even without
    # promiscuous mode; a real NIC would drop it in hardware.)
    for net in ${IFACES[$h]}; do
      args+=(-i "$net" -f "ether host $(mac "$h" "$net") or ether multicast")
    done
    ip netns exec "$(ns "$sc" "$h")" dumpcap -q -p -s "$snap" "${args[@]}" -w "$WORK/$sc/$h.pcapng" \
      >"$WORK/$sc/dumpcap-$h.log" 2>&1 &
    echo $! >>"$WORK/$sc/capture.pids"
  done
  sleep 1.5   # let dumpcap open every interface
}

capture_stop() { # capture_stop SC HOST...
  local sc=$1 p h; shift
  sleep 1
  while read -r p; do kill -INT "$p" 2>/dev/null || true; done <"$WORK/$sc/capture.pids"
  while read -r p; do wait "$p" 2>/dev/null || true; done <"$WORK/$sc/capture.pids"
  mkdir -p "$OUT/$sc"
  for h in "$@"; do cp "$WORK/$sc/$h.pcapng" "$OUT/$sc/$h.pcapng"; done
}

# background SC DURATION [HB_MUTE_ARGS...]: heartbeats + GUM between the nodes on every
# cluster-enabled network, RDP/WinRM stand-ins from the admin workstation.
background() {
  local sc=$1 dur=$2; shift 2
  local t0 node peer net pairs id=0
  t0=$(cat "$WORK/$sc/t0")
  for node in $NODES; do
    id=$((id + 1))
    pairs=()
    for net in mgmt cluster storage; do
      for peer in $NODES; do
        [[ $peer == "$node" ]] && continue
        if [[ $net == mgmt ]]; then pairs+=(--pair "$(v4 "$node" $net),$(v4 "$peer" $net)")
        else pairs+=(--pair "$(v6 "$node" $net),$(v6 "$peer" $net)"); fi   # IPv6 preferred
      done
    done
    local mute=()
    [[ $node == node3 ]] && mute=("$@")
    bg "$sc" ip netns exec "$(ns "$sc" "$node")" $TRAFFIC hb --node-id $id --t0 "$t0" --duration "$dur" \
      "${pairs[@]}" "${mute[@]}"
    bg "$sc" ip netns exec "$(ns "$sc" "$node")" $TRAFFIC gum-server --addr "$(v6 "$node" cluster)" --t0 "$t0" --duration "$dur"
    bg "$sc" ip netns exec "$(ns "$sc" "$node")" $TRAFFIC rdp-server --addr "$(v4 "$node" mgmt)" --t0 "$t0" --duration "$dur"
    bg "$sc" ip netns exec "$(ns "$sc" "$node")" $TRAFFIC winrm-server --addr "$(v4 "$node" mgmt)" --t0 "$t0" --duration "$dur"
  done
  bg "$sc" ip netns exec "$(ns "$sc" node1)" $TRAFFIC gum-client --t0 "$t0" --duration "$((dur - 1))" \
    --peer "$(v6 node2 cluster)" --peer "$(v6 node3 cluster)"
  bg "$sc" ip netns exec "$(ns "$sc" admin)" $TRAFFIC rdp-client --server "$(v4 node1 mgmt)" \
    --t0 "$t0" --duration "$((dur - 1))" --log "$WORK/$sc/rdp-node1.log"
  bg "$sc" ip netns exec "$(ns "$sc" admin)" $TRAFFIC winrm-client --t0 "$t0" --duration "$((dur - 1))" \
    --target "$(v4 node1 mgmt)" --target "$(v4 node2 mgmt)" --target "$(v4 node3 mgmt)" \
    --log "$WORK/$sc/winrm.log"
}

until_t() { # until_t SC SECONDS  -- sleep until t0+SECONDS
  local s
  s=$(awk -v t0="$(cat "$WORK/$1/t0")" -v now="$(date +%s.%N)" -v t="$2" 'BEGIN{d=t0+t-now; if(d<0)d=0; printf "%.2f", d}')
  sleep "$s"
}

rtt_summary() { # rtt_summary SC LOG LABEL [FROM TO]: median/max RDP round trip in a window
  "$PY" - "$(cat "$WORK/$1/t0")" "$2" "$3" "${4:-0}" "${5:-1e9}" >>"$WORK/$1/timeline.txt" <<'PYEOF'
import sys
t0, path, label, a, b = float(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
v, err = [], 0
for line in open(path):
    f = line.split()
    t = float(f[0]) - t0
    if not a <= t < b:
        continue
    if f[1].startswith("rtt_ms="):
        v.append(float(f[1][7:]))
    else:
        err += 1
v.sort()
if v:
    print(f"{label}: {len(v)} samples, median {v[len(v) // 2]:.1f} ms, max {v[-1]:.1f} ms, {err} errors")
else:
    print(f"{label}: no samples, {err} errors")
PYEOF
}

# ---------------------------------------------------------------- scenarios
prepare() { # prepare SC SNAPLEN HOST...  (hosts to capture; admin is always added, never captured)
  local sc=$1 snap=$2; shift 2
  mkdir -p "$WORK/$sc"
  : >"$WORK/$sc/capture.pids"; : >"$WORK/$sc/bg.pids"; : >"$WORK/$sc/svc.pids"; : >"$WORK/$sc/timeline.txt"
  topo_up "$sc" "$@" admin
  client_conf "$sc" >/dev/null
  local h
  for h in "$@"; do if [[ $h == node* ]]; then smb_start "$sc" "$h"; fi; done
  capture_start "$sc" "$snap" "$@"
  # t0 = traffic start, a few seconds ahead so every generator is up by then
  awk -v now="$(date +%s.%N)" 'BEGIN{printf "%.3f\n", now+5}' >"$WORK/$sc/t0"
}

rtt_window() { # rtt_window SC LABEL FROM TO: summarise RDP round trips in [FROM,TO) at the end
  printf '%s\t%s\t%s\n' "$2" "$3" "$4" >>"$WORK/$1/rtt.windows"
}

finish() { # finish SC HOST...
  local sc=$1 label a b; shift
  wait_bg "$sc"
  if [[ -f $WORK/$sc/rtt.windows ]]; then
    while IFS=$'\t' read -r label a b; do
      rtt_summary "$sc" "$WORK/$sc/rdp-node1.log" "$label" "$a" "$b"
    done <"$WORK/$sc/rtt.windows"
  fi
  capture_stop "$sc" "$@"
  cp "$WORK/$sc/timeline.txt" "$OUT/$sc/timeline.txt"
  topo_down "$sc"
  log "$sc: done"
}

wait_bg() { # wait_bg SC: wait for this scenario's traffic generators (they stop by themselves)
  local p
  while read -r p; do wait "$p" 2>/dev/null || true; done <"$WORK/$1/bg.pids"
}

bg() { # bg SC CMD...: run CMD in the background as one of the scenario's generators
  local sc=$1; shift
  "$@" &
  echo $! >>"$WORK/$sc/bg.pids"
}

sc_baseline() {
  local sc=baseline D=30
  prepare $sc 65535 node1 node2 node3 host1
  background $sc $D
  mkfile "$WORK/$sc/vm1.vhdx" $((256 * 1024)); mkfile "$WORK/$sc/vm2.vhdx" $((256 * 1024))
  until_t $sc 5
  # healthy SOFS storage IO: host1 talks to each CSV's owner directly
  smb_put $sc host1 SOFS1 "$(v4 node1 storage)" csv1 "$WORK/$sc/vm1.vhdx" vm1.vhdx
  until_t $sc 12
  smb_put $sc host1 SOFS1 "$(v6 node2 storage)" csv2 "$WORK/$sc/vm2.vhdx" vm2.vhdx
  rtt_window $sc "rdp admin->node1, whole capture" 0 1e9
  finish $sc node1 node2 node3 host1
}

restore_common() { # restore_common SC ADDR_A ADDR_B
  local sc=$1 a=$2 b=$3 D=$4
  prepare $sc 256 node1 node2 node3
  impair_mgmt_node1 $sc
  background $sc "$D"
  # the restored VM: 6 MiB, written by node3 (non-owner) to CSV1 (owner node1) as two
  # halves in parallel, one SMB 3.1.1 session per path (multichannel stand-in)
  mkfile "$WORK/$sc/restore.part0" $((3 * 1024 * 1024))
  mkfile "$WORK/$sc/restore.part1" $((3 * 1024 * 1024))
  until_t $sc 6
  rtt_window $sc "rdp admin->node1, before the restore" 0 6
  local t1; t1=$(rel_t $sc)
  smb_put $sc node3 NODE1 "$a" csv1 "$WORK/$sc/restore.part0" restore-vm-big.vhdx.part0 &
  local p0=$!
  smb_put $sc node3 NODE1 "$b" csv1 "$WORK/$sc/restore.part1" restore-vm-big.vhdx.part1 &
  local p1=$!
  wait $p0 $p1
  local t2; t2=$(rel_t $sc)
  rtt_window $sc "rdp admin->node1, during the restore" "$t1" "$t2"
  rtt_window $sc "rdp admin->node1, after the restore" "$t2" 1e9
  finish $sc node1 node2 node3
}

sc_restore_flood() { # multichannel over cluster (IPv6) AND management (IPv4): the incident
  restore_common restore-flood "$(v4 node1 mgmt)" "$(v6 node1 cluster)" 40
}

sc_restore_constrained() { # the fix: both channels on the cluster network (IPv4 + IPv6)
  restore_common restore-constrained "$(v4 node1 cluster)" "$(v6 node1 cluster)" 70
}

sc_sofs_redirect() {
  local sc=sofs-redirect D=32
  prepare $sc 256 node1 node2 node3 host1
  background $sc $D
  mkfile "$WORK/$sc/vm1.vhdx" $((2 * 1024 * 1024)); mkfile "$WORK/$sc/vm1b.vhdx" $((2 * 1024 * 1024))
  mkfile "$WORK/$sc/vm2.vhdx" $((1024 * 1024))
  until_t $sc 3
  # host1 resolved SOFS1 to node2 (non-owner of CSV1): node2 redirects the IO to node1,
  # emulated as node2 writing the same bytes to node1 over SMB on the cluster network
  smb_put $sc host1 SOFS1 "$(v4 node2 storage)" csv1 "$WORK/$sc/vm1.vhdx" vm1.vhdx &
  local p0=$!
  smb_put $sc node2 NODE1 "$(v6 node1 cluster)" csv1 "$WORK/$sc/vm1.vhdx" vm1.vhdx &
  local p1=$!
  wait $p0 $p1
  # then host1 moves to the owner: direct IO, no node-to-node traffic
  smb_put $sc host1 SOFS1 "$(v4 node1 storage)" csv1 "$WORK/$sc/vm1b.vhdx" vm1.vhdx
  # and CSV2 (owner node2, encrypted share) directly on its owner
  smb_put $sc host1 SOFS1 "$(v6 node2 storage)" csv2 "$WORK/$sc/vm2.vhdx" vm2.vhdx
  finish $sc node1 node2 node3 host1
}

sc_live_migration() {
  local sc=live-migration D=26
  prepare $sc 256 node1 node2 node3
  background $sc $D
  mkfile "$WORK/$sc/vm3.mem" $((2 * 1024 * 1024))
  bg $sc ip netns exec "$(ns $sc node2)" $TRAFFIC lm-recv --addr "$(v4 node2 cluster)" --t0 "$(cat "$WORK/$sc/t0")" --duration 25 \
    --log "$WORK/$sc/lm-recv-node2.log"
  bg $sc ip netns exec "$(ns $sc node3)" $TRAFFIC lm-recv --addr "$(v6 node3 storage)" --t0 "$(cat "$WORK/$sc/t0")" --duration 25 \
    --log "$WORK/$sc/lm-recv-node3.log"
  until_t $sc 3
  local t; t=$(rel_t $sc)
  # intended: TCP 6600 on the cluster/LM network
  { ip netns exec "$(ns $sc node1)" $TRAFFIC lm-send --peer "$(v4 node2 cluster)" --bytes $((2 * 1024 * 1024))
    echo "t=$t..$(rel_t $sc) lm-tcp node1 -> node2 $(v4 node2 cluster):6600 (cluster network, intended): 2097152 bytes" >>"$WORK/$sc/timeline.txt"; } &
  echo $! >>"$WORK/$sc/bg.pids"
  # unintended: TCP 6600 on the storage network
  { ip netns exec "$(ns $sc node2)" $TRAFFIC lm-send --peer "$(v6 node3 storage)" --bytes $((2 * 1024 * 1024))
    echo "t=$t..$(rel_t $sc) lm-tcp node2 -> node3 [$(v6 node3 storage)]:6600 (storage network, unintended): 2097152 bytes" >>"$WORK/$sc/timeline.txt"; } &
  echo $! >>"$WORK/$sc/bg.pids"
  # SMB live migration: SMB 3 bulk write node3 -> node1 on the cluster network, share vmms-lm
  smb_put $sc node3 NODE1 "$(v4 node1 cluster)" vmms-lm "$WORK/$sc/vm3.mem" vm3-memory.bin
  finish $sc node1 node2 node3
}

sc_heartbeat_loss() {
  local sc=heartbeat-loss D=82
  prepare $sc 256 node1 node2 node3
  # node3 loses every link: a 2 s blip (below every threshold), then three 12 s outages
  # (each longer than 5 x 1 s and 10 x 1 s): isolated, isolated again, quarantined.
  # The first heartbeat after a link comes back is usually lost too (linkwatch needs up to
  # 1 s to see the carrier), so the gaps on the wire are about 4 s and 14 s.
  local outages="8:2 19:12 39:12 59:12"
  local mutes=() o
  for o in $outages; do mutes+=(--mute "$o"); done
  background $sc $D "${mutes[@]}"
  local sw start len net; sw=$(ns $sc sw)
  for o in $outages; do
    start=${o%:*}; len=${o#*:}
    until_t $sc "$start"
    echo "t=$(rel_t $sc) node3 links down (mgmt, cluster, storage) for ${len}s" >>"$WORK/$sc/timeline.txt"
    for net in mgmt cluster storage; do ip -n "$sw" link set "$(swport node3 $net)" down; done
    until_t $sc "$((start + len))"
    for net in mgmt cluster storage; do ip -n "$sw" link set "$(swport node3 $net)" up; done
    echo "t=$(rel_t $sc) node3 links up" >>"$WORK/$sc/timeline.txt"
  done
  finish $sc node1 node2 node3
}

sc_multichannel() { # real SMB 3.1.1 multichannel from Samba's own test client (smbtorture)
  local sc=multichannel D=20 t
  prepare $sc 65535 node1 node2 node3
  background $sc $D
  until_t $sc 3
  local test
  for test in smb2.multichannel.generic.interface_info smb2.multichannel.generic.num_channels; do
    t=$(rel_t $sc)
    ip netns exec "$(ns $sc node3)" smbtorture "//$(v4 node1 cluster)/csv1" -U "$SMBUSER%$SMBPASS" \
      --configfile="$WORK/$sc/client/smb.conf" --option=clientmaxprotocol=SMB3_11 "$test" \
      >>"$WORK/$sc/smbtorture.log" 2>&1 || log "$sc: $test failed (see smbtorture.log)"
    echo "t=$t..$(rel_t $sc) smbtorture $test: node3 -> \\\\$(v4 node1 cluster)\\csv1" >>"$WORK/$sc/timeline.txt"
  done
  finish $sc node1 node2 node3
}

# ---------------------------------------------------------------- main
[[ $(id -u) == 0 ]] || { echo "lab.sh must run as root (network namespaces)" >&2; exit 1; }
for t in ip tc smbd smbclient smbtorture pdbedit dumpcap ethtool; do
  command -v $t >/dev/null || { echo "missing $t (see samples/README.md)" >&2; exit 1; }
done
ensure_user
START=$(date +%s)
declare -A PIDS=()
for sc in $SCENARIOS; do
  case $sc in
    baseline|restore-flood|restore-constrained|sofs-redirect|live-migration|heartbeat-loss|multichannel) ;;
    *) echo "unknown scenario $sc" >&2; exit 2 ;;
  esac
done
rc=0
for sc in $SCENARIOS; do
  fn=sc_${sc//-/_}
  ( $fn ) >"$WORK/$sc.log" 2>&1 &
  PIDS[$sc]=$!
  log "started $sc (log $WORK/$sc.log)"
  if [[ $PARALLEL == 0 ]]; then
    if wait "${PIDS[$sc]}"; then log "$sc ok"; else log "$sc FAILED:"; tail -20 "$WORK/$sc.log" >&2; rc=1; fi
  fi
done
if [[ $PARALLEL == 1 ]]; then
  for sc in $SCENARIOS; do
    if wait "${PIDS[$sc]}"; then log "$sc ok"; else log "$sc FAILED:"; tail -20 "$WORK/$sc.log" >&2; rc=1; fi
  done
fi
log "lab run took $(( $(date +%s) - START )) s"
exit $rc

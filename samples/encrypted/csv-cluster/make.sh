#!/usr/bin/env bash
# Makes samples/encrypted/csv-cluster/{encrypted,clear}/node2.pcapng: two
# "cluster nodes" in network namespaces, joined by two veth pairs (a
# management and a cluster network), each sending emulated cluster heartbeats
# (UDP 3343, 1 s, samples/lab/labtraffic.py hb) to the other on both networks.
# node1 runs real Samba 4.17 (smbd) with a CSV-like volume share `Volume1`
# and the administrative share `C$`; node2, with the real smbclient over SMB
# 3.1.1 and NTLMv2 (account and password in samples/README.md):
#   t=3 s  session 1 on the cluster network: writes 4 KiB to
#          \\NODE1\Volume1\Hyper-V\vm1.vhdx (CSV redirected IO stand-in);
#   t=6 s  session 2 on the management network: copies 2 KiB to
#          \\NODE1\C$\Windows\Temp\setup.ps1 (an administrator's copy).
# The same traffic twice: `encrypted` with `smb encrypt = required` on the
# server and client (AES-128-GCM: every message after SESSION_SETUP is in a
# transform header), `clear` with `smb encrypt = off`. dumpcap captures
# node2's two NICs (if_name `mgmt`, `cluster`, full frames) for ~12 s.
# Run as root from the repository root:
#     bash samples/encrypted/csv-cluster/make.sh [encrypted|clear]...
# Only the namespaces' documentation addresses (192.0.2.0/24 management,
# 198.51.100.0/24 cluster) carry traffic; everything is removed on exit.
set -euo pipefail
OUT=$(cd "$(dirname "$0")" && pwd)
TRAFFIC="python3 $(cd "$OUT/../../lab" && pwd)/labtraffic.py"
USER_=labuser
PASS='Encrypt-Me-2026'
DUR=12
MODES=("$@"); [[ ${#MODES[@]} -gt 0 ]] || MODES=(encrypted clear)
W=$(mktemp -d /tmp/hvcsv.XXXX); chmod 0755 "$W"
N1=hvcsv-n1-$$ N2=hvcsv-n2-$$
PIDS=()
teardown() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  ip netns del "$N1" 2>/dev/null || true
  ip netns del "$N2" 2>/dev/null || true
}
trap 'teardown; rm -rf "$W"' EXIT
id "$USER_" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$USER_"

until_t() { # until_t T0 SECONDS: sleep until T0 + SECONDS (epoch)
  sleep "$(awk -v t0="$1" -v now="$(date +%s.%N)" -v t="$2" 'BEGIN{s=t0+t-now; if(s<0)s=0; printf "%.2f", s}')"
}

run() { # run MODE
  local mode=$1 enc cipher_line="" t0 d="$W/$1" run
  # run: the MACs' last byte, so that the two runs of the same machines, read
  # together (`analyze samples/encrypted`), are not taken for one link seen twice
  case $mode in
    encrypted) enc=required; run=00; cipher_line="client smb3 encryption algorithms = AES-128-GCM" ;;
    clear) enc=off; run=01 ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
  ip netns add "$N1"; ip netns add "$N2"
  # net: name, node1 address, node2 address, MAC network byte
  for spec in "mgmt 192.0.2.11 192.0.2.12 01" "cluster 198.51.100.11 198.51.100.12 02"; do
    set -- $spec
    ip link add name "$1" netns "$N1" type veth peer name "$1" netns "$N2"
    ip -n "$N1" link set "$1" address "02:48:56:$4:0b:$run"
    ip -n "$N2" link set "$1" address "02:48:56:$4:0c:$run"
    ip -n "$N1" addr add "$2/24" dev "$1"
    ip -n "$N2" addr add "$3/24" dev "$1"
  done
  for n in "$N1" "$N2"; do
    # IPv4 only: no router/neighbour solicitations or MLD in the tiny capture
    ip netns exec "$n" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    for i in lo mgmt cluster; do ip -n "$n" link set "$i" up; done
    for i in mgmt cluster; do ip netns exec "$n" ethtool -K "$i" tso off gso off gro off >/dev/null 2>&1 || true; done
  done
  mkdir -p "$d"/srv/{private,lock,state,cache,run,ncalrpc} "$d"/srv/Volume1 "$d"/srv/C/Windows/Temp \
    "$d"/cli/{private,lock,state,cache}
  chmod -R 0777 "$d/srv/Volume1" "$d/srv/C"
  cat >"$d/srv/smb.conf" <<EOC
[global]
  netbios name = NODE1
  workgroup = LAB
  server role = standalone server
  interfaces = 192.0.2.11/24 198.51.100.11/24
  bind interfaces only = yes
  server min protocol = SMB3_11
  server smb encrypt = $enc
  ntlm auth = ntlmv2-only
  smb ports = 445
  disable netbios = yes
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
  passdb backend = tdbsam:$d/srv/private/passdb.tdb
  private dir = $d/srv/private
  lock directory = $d/srv/lock
  state directory = $d/srv/state
  cache directory = $d/srv/cache
  pid directory = $d/srv/run
  ncalrpc dir = $d/srv/ncalrpc
  log file = $d/srv/log.smbd
# a CSV volume as a node shares it (C:\ClusterStorage\Volume1)
[Volume1]
  path = $d/srv/Volume1
  read only = no
  smb encrypt = $enc
# the administrative share of the system drive
[C\$]
  path = $d/srv/C
  read only = no
  smb encrypt = $enc
EOC
  cat >"$d/cli/smb.conf" <<EOC
[global]
  client min protocol = SMB3_11
  client max protocol = SMB3_11
  client smb encrypt = $enc
  $cipher_line
  disable netbios = yes
  lock directory = $d/cli/lock
  state directory = $d/cli/state
  cache directory = $d/cli/cache
  private dir = $d/cli/private
EOC
  printf '%s\n%s\n' "$PASS" "$PASS" | pdbedit -s "$d/srv/smb.conf" -a -u "$USER_" -t >/dev/null
  ip netns exec "$N1" setsid smbd --foreground --no-process-group -s "$d/srv/smb.conf" >"$d/smbd.out" 2>&1 &
  PIDS+=($!)
  local i
  for i in $(seq 1 100); do
    ip netns exec "$N2" bash -c 'exec 3<>/dev/tcp/198.51.100.11/445' 2>/dev/null \
      && ip netns exec "$N2" bash -c 'exec 3<>/dev/tcp/192.0.2.11/445' 2>/dev/null && break
    sleep 0.1
  done
  # Deterministic content: a counter pattern.
  python3 -c "import sys; sys.stdout.buffer.write(bytes(i*7 & 0xff for i in range(4096)))" >"$d/vm1.vhdx"
  python3 -c "import sys; sys.stdout.buffer.write(b''.join(b'Write-Host %04d\r\n' % i for i in range(128)))" >"$d/setup.ps1"
  local pcap="$d/node2.pcapng"
  ip netns exec "$N2" dumpcap -q -i mgmt -i cluster -w "$pcap" 2>"$d/dumpcap.log" &
  local dpid=$!
  sleep 1.5
  # t0 two seconds ahead: the senders wait for it, so a slow start-up on a
  # loaded machine costs no heartbeat
  t0=$(awk -v now="$(date +%s.%N)" 'BEGIN{printf "%.3f", now + 2}')
  for n in 1 2; do
    local pairs=(--pair "192.0.2.1$n,192.0.2.1$((3 - n))" --pair "198.51.100.1$n,198.51.100.1$((3 - n))")
    ip netns exec "hvcsv-n$n-$$" $TRAFFIC hb --node-id "$n" --t0 "$t0" --duration "$DUR" "${pairs[@]}" &
    PIDS+=($!)
  done
  until_t "$t0" 3
  ip netns exec "$N2" smbclient //NODE1/Volume1 -I 198.51.100.11 -U "LAB\\$USER_%$PASS" -s "$d/cli/smb.conf" \
    -c "mkdir Hyper-V; put $d/vm1.vhdx Hyper-V\\vm1.vhdx" >"$d/smbclient1.log" 2>&1 \
    || { cat "$d/smbclient1.log"; exit 1; }
  until_t "$t0" 6
  ip netns exec "$N2" smbclient '//NODE1/C$' -I 192.0.2.11 -U "LAB\\$USER_%$PASS" -s "$d/cli/smb.conf" \
    -c "put $d/setup.ps1 Windows\\Temp\\setup.ps1" >"$d/smbclient2.log" 2>&1 \
    || { cat "$d/smbclient2.log"; exit 1; }
  cmp "$d/vm1.vhdx" "$d/srv/Volume1/Hyper-V/vm1.vhdx"
  cmp "$d/setup.ps1" "$d/srv/C/Windows/Temp/setup.ps1"
  until_t "$t0" "$((DUR + 1))"   # the heartbeats stop at t0 + DUR
  kill -INT "$dpid" 2>/dev/null || { cat "$d/dumpcap.log"; exit 1; }; wait "$dpid" || true
  teardown
  mkdir -p "$OUT/$mode"
  cp "$pcap" "$OUT/$mode/node2.pcapng"
  echo "$OUT/$mode/node2.pcapng: $(stat -c %s "$OUT/$mode/node2.pcapng") bytes"
}

for m in "${MODES[@]}"; do run "$m"; done

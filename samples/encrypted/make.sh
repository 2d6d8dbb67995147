#!/usr/bin/env bash
# Makes the encrypted SMB 3.1.1 lab captures of samples/encrypted/: real Samba
# (smbd, `smb encrypt = required`) and smbclient in two network namespaces
# joined by a veth pair, NTLMv2 with a known password (samples/README.md),
# one capture per cipher (AES-128-GCM, AES-256-GCM), taken with dumpcap on
# the client's veth. Run as root from the repository root:
#     bash samples/encrypted/make.sh
# Only the two namespaces' private addresses (192.0.2.0/24) carry traffic.
set -euo pipefail
OUT=$(cd "$(dirname "$0")" && pwd)
USER_=labuser
PASS='Encrypt-Me-2026'
W=$(mktemp -d /tmp/hvcrypt.XXXX); chmod 0755 "$W"
SRV=hvc-srv-$$ CLI=hvc-cli-$$
cleanup() {
  [[ -f $W/smbd.pid ]] && kill "$(cat "$W/smbd.pid")" 2>/dev/null || true
  ip netns del "$SRV" 2>/dev/null || true
  ip netns del "$CLI" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
ip netns add "$SRV"; ip netns add "$CLI"
ip link add name eth0 netns "$CLI" type veth peer name eth0 netns "$SRV"
for n in "$SRV" "$CLI"; do
  ip netns exec "$n" ip link set lo up
  ip netns exec "$n" ip link set eth0 up
  ip netns exec "$n" ethtool -K eth0 tso off gso off gro off >/dev/null 2>&1 || true
done
ip netns exec "$SRV" ip addr add 192.0.2.10/24 dev eth0
ip netns exec "$CLI" ip addr add 192.0.2.20/24 dev eth0
id "$USER_" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$USER_"
mkdir -p "$W"/srv/{private,lock,state,cache,run,ncalrpc,share} "$W"/cli/{private,lock,state,cache}
chmod 0777 "$W/srv/share"
cat >"$W/srv/smb.conf" <<EOC
[global]
  netbios name = FILESRV
  workgroup = LAB
  server role = standalone server
  interfaces = 192.0.2.10/24
  bind interfaces only = yes
  server min protocol = SMB3_11
  server smb encrypt = required
  ntlm auth = ntlmv2-only
  smb ports = 445
  disable netbios = yes
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
  passdb backend = tdbsam:$W/srv/private/passdb.tdb
  private dir = $W/srv/private
  lock directory = $W/srv/lock
  state directory = $W/srv/state
  cache directory = $W/srv/cache
  pid directory = $W/srv/run
  ncalrpc dir = $W/srv/ncalrpc
  log file = $W/srv/log.smbd
[csv1]
  path = $W/srv/share
  read only = no
  smb encrypt = required
EOC
printf '%s\n%s\n' "$PASS" "$PASS" | pdbedit -s "$W/srv/smb.conf" -a -u "$USER_" -t >/dev/null
ip netns exec "$SRV" setsid smbd --foreground --no-process-group -s "$W/srv/smb.conf" >"$W/smbd.out" 2>&1 &
echo $! >"$W/smbd.pid"
for _ in $(seq 1 100); do
  ip netns exec "$CLI" bash -c 'exec 3<>/dev/tcp/192.0.2.10/445' 2>/dev/null && break
  sleep 0.1
done
# Deterministic content: 4 KiB of a counter pattern (small: samples/ has a 20 MB budget).
python3 -c "import sys; sys.stdout.buffer.write(bytes(i*7 & 0xff for i in range(4*1024)))" >"$W/vm-disk.vhdx"
for cipher in AES-128-GCM AES-256-GCM; do
  name=$(echo "$cipher" | tr 'A-Z' 'a-z' | tr -d '-')
  cat >"$W/cli/smb.conf" <<EOC
[global]
  client min protocol = SMB3_11
  client max protocol = SMB3_11
  client smb encrypt = required
  client smb3 encryption algorithms = $cipher
  disable netbios = yes
  lock directory = $W/cli/lock
  state directory = $W/cli/state
  cache directory = $W/cli/cache
  private dir = $W/cli/private
EOC
  pcap="$OUT/smb311-$name-ntlmv2.pcap"
  ip netns exec "$CLI" dumpcap -q -i eth0 -f "tcp port 445" -P -w "$pcap" 2>"$W/dumpcap.log" &
  dpid=$!
  sleep 1
  ip netns exec "$CLI" smbclient //192.0.2.10/csv1 -U "LAB\\$USER_%$PASS" -s "$W/cli/smb.conf" \
    -c "mkdir Hyper-V; put $W/vm-disk.vhdx Hyper-V\\vm-disk.vhdx; ls Hyper-V\\*; get Hyper-V\\vm-disk.vhdx $W/back.vhdx; rm Hyper-V\\vm-disk.vhdx; rmdir Hyper-V" \
    >"$W/smbclient.log" 2>&1 || { cat "$W/smbclient.log"; exit 1; }
  cmp "$W/vm-disk.vhdx" "$W/back.vhdx" || { cat "$W/smbclient.log"; exit 1; }
  sleep 1
  kill -INT "$dpid" 2>/dev/null || { cat "$W/dumpcap.log"; exit 1; }; wait "$dpid" || true
  echo "$pcap: $(stat -c %s "$pcap") bytes"
done

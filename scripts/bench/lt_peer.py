#!/usr/bin/python3
"""A libtorrent peer for the swarm benchmark's comparison (Debian's python3-libtorrent, run by
/usr/bin/python3): the mature BitTorrent client doing the same job as cascade-peer, TCP only, no
tracker, DHT, LSD, UPnP or uTP; peers are connected to each other directly.

  lt_peer.py make DATA OUT.torrent --piece-size BYTES [--kind v2|v1|hybrid]
  lt_peer.py seed T.torrent DIR --port-file F
      checks DIR's copy, writes its listening port to F once seeding, serves until SIGTERM
  lt_peer.py leech T.torrent DIR --port-file F --peers-dir D [--timeout S]
      connects to every peer whose port file (*.port) is in D (again as new ones appear), serves
      while downloading, exits 0 once every piece is verified (1 on timeout)"""
import argparse
import glob
import os
import signal
import sys
import time

import libtorrent as lt


def session():
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_incoming_utp": False, "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": 0,
    })


def write_port(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.rename(tmp, path)


def add(ses, torrent, save_dir):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save_dir
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    return ses.add_torrent(atp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["make", "seed", "leech"])
    ap.add_argument("path")
    ap.add_argument("out")
    ap.add_argument("--piece-size", type=int, default=1 << 20)
    ap.add_argument("--kind", choices=["v2", "v1", "hybrid"], default="v2")
    ap.add_argument("--port-file")
    ap.add_argument("--peers-dir")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    if a.what == "make":
        fs = lt.file_storage()
        lt.add_files(fs, a.path)
        flags = {"v2": lt.create_torrent.v2_only, "v1": lt.create_torrent.v1_only, "hybrid": 0}[a.kind]
        t = lt.create_torrent(fs, a.piece_size, flags=flags)
        lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(a.path)))
        with open(a.out, "wb") as f:
            f.write(lt.bencode(t.generate()))
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ses = session()
    h = add(ses, a.path, a.out)
    deadline = time.time() + a.timeout
    if a.what == "seed":
        while not h.status().is_seeding:
            if time.time() > deadline:
                return 1
            time.sleep(0.01)
        write_port(a.port_file, ses.listen_port())
        while True:
            time.sleep(1)
    write_port(a.port_file, ses.listen_port())
    mine = os.path.abspath(a.port_file)
    connected = set()
    while True:
        for pf in glob.glob(os.path.join(a.peers_dir, "*.port")):
            if os.path.abspath(pf) == mine or pf in connected:
                continue
            try:
                with open(pf) as f:
                    port = int(f.read().strip())
            except (OSError, ValueError):
                continue
            h.connect_peer(("127.0.0.1", port))
            connected.add(pf)
        if h.status().is_seeding:
            return 0
        if time.time() > deadline:
            return 1
        time.sleep(0.005)


if __name__ == "__main__":
    sys.exit(main())

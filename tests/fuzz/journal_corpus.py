#!/usr/bin/env python3
"""Writes the seed inputs of fuzz_journal (tests/fuzz/corpus/journal) with Python's struct and zlib:
an implementation of the format in peer/journal_format.hpp independent of ours.
JournalFormat.ReadsAndWritesTheBytesAnotherImplementationWrote (tests/peer/journal_test.cpp)
checks our encoder and decoder against snapshot_records_torn.
    tests/fuzz/journal_corpus.py [DIR]"""
import hashlib
import os
import struct
import sys
import zlib


def header(h, size, dev, ino, gen, birth, count, bits):
    out = b"CJOURNL2" + h + struct.pack(">6Q", size, dev, ino, gen, birth, count)
    bitmap = bytearray((count + 7) // 8)
    for b in bits:
        bitmap[b // 8] |= 1 << (b % 8)
    out += bytes(bitmap)
    return out + struct.pack(">I", zlib.crc32(out))


def record(h, block):
    return struct.pack(">Q", block) + struct.pack(">I", zlib.crc32(h + struct.pack(">Q", block))) + b"VRFD"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "journal")
    h = hashlib.sha256(b"cascade").digest()
    files = {
        # a snapshot (blocks 0-2 and 9) and records (3 and 19), then a torn record
        "snapshot_records_torn": header(h, 20 << 20, 2049, 131, 7, 1764700000123456789, 20, [0, 1, 2, 9])
        + record(h, 3) + record(h, 19) + record(h, 4)[:10],
        # a record naming a block past the end, then a valid one (not reached)
        "one_block_bad_record": header(h, 5, 0, 0, 0, 0, 1, []) + record(h, 1) + record(h, 0),
        # the older format
        "old_format": b"CJOURNL1" + h + struct.pack(">5Q", 1, 2, 3, 1, 0) + b"\x01" + b"\0\0\0\0",
    }
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

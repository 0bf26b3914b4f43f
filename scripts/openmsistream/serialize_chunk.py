"""Serialize chunks with OpenMSIStream's own DataFileChunkSerializer.

Reads JSON from stdin: one chunk description, or a list of them. A description has the
fields of OpenMSIStream's chunk message, binary fields as hex:

    {"filename": "a.txt", "file_hash": "<128 hex digits>", "chunk_hash": "<hex, optional>",
     "chunk_offset_write": 0, "chunk_i": 1, "n_total_chunks": 1, "subdir_str": "run1/raw",
     "filename_append": "", "data": "<hex>", "file_mtime": 1700000000.0}

chunk_hash defaults to the SHA-512 of data; file_mtime may be null or left out.

For one description, writes the serialized message value to stdout as raw bytes. For a list,
writes a JSON list of {"key": <message key>, "value": <hex of the value>}.

The chunk is built as OpenMSIStream's uploader builds it (UploadDataFile.add_chunks_to_upload):
a DataFileChunk whose filepath is <rootdir>/<subdir>/<filename> with rootdir set, so subdir_str
and the key come from OpenMSIStream's own code. Run with the venv from venv.sh.
"""

import json
import pathlib
import sys
from hashlib import sha512

from openmsistream.data_file_io.entity.data_file_chunk import DataFileChunk
from openmsistream.kafka_wrapper.serialization import DataFileChunkSerializer

ROOTDIR = pathlib.Path("/ferry-openmsistream-root")


def build_chunk(desc):
    data = bytes.fromhex(desc["data"])
    chunk_hash = (
        bytes.fromhex(desc["chunk_hash"]) if desc.get("chunk_hash") else sha512(data).digest()
    )
    subdir = desc.get("subdir_str", "")
    filepath = ROOTDIR.joinpath(*pathlib.PurePosixPath(subdir).parts, desc["filename"])
    offset = int(desc["chunk_offset_write"])
    chunk = DataFileChunk(
        filepath,
        desc["filename"],
        bytes.fromhex(desc["file_hash"]),
        chunk_hash,
        offset,  # chunk_offset_read
        offset,  # chunk_offset_write
        len(data),  # chunk_size
        int(desc["chunk_i"]),
        int(desc["n_total_chunks"]),
        rootdir=ROOTDIR,
        filename_append=desc.get("filename_append", ""),
        data=data,
        file_mtime=desc.get("file_mtime"),
    )
    if chunk.subdir_str != subdir:
        raise ValueError(
            f"subdir {subdir!r} is not normalized: OpenMSIStream derives {chunk.subdir_str!r}"
        )
    return chunk


def main():
    request = json.load(sys.stdin)
    serializer = DataFileChunkSerializer()
    if isinstance(request, list):
        out = []
        for desc in request:
            chunk = build_chunk(desc)
            out.append({"key": chunk.msg_key, "value": serializer(chunk).hex()})
        json.dump(out, sys.stdout)
    else:
        sys.stdout.buffer.write(serializer(build_chunk(request)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Deserialize chunk message values with OpenMSIStream's own DataFileChunkDeserializer.

Reads a JSON list of hex-encoded message values from stdin and writes a JSON list with, for
each value, either the chunk's fields (binary fields as hex, the file's relative path and the
name OpenMSIStream's downloader would write it to) or {"error": <message>} when OpenMSIStream
refuses the value. Run with the venv from venv.sh.
"""

import json
import sys

from openmsistream.data_file_io.entity.download_data_file import DownloadDataFile
from openmsistream.kafka_wrapper.serialization import DataFileChunkDeserializer


def describe(chunk):
    return {
        "filename": chunk.filename,
        "file_hash": chunk.file_hash.hex(),
        "chunk_hash": chunk.chunk_hash.hex(),
        "chunk_offset_write": chunk.chunk_offset_write,
        "chunk_i": chunk.chunk_i,
        "n_total_chunks": chunk.n_total_chunks,
        "subdir_str": chunk.subdir_str,
        "filename_append": chunk.filename_append,
        "data": chunk.data.hex(),
        "file_mtime": chunk.file_mtime,
        "output_path": DownloadDataFile.get_full_filepath(chunk).as_posix(),
    }


def main():
    deserializer = DataFileChunkDeserializer()
    out = []
    for value_hex in json.load(sys.stdin):
        try:
            out.append(describe(deserializer(bytes.fromhex(value_hex))))
        except Exception as exc:  # reported to the caller, which decides
            out.append({"error": f"{type(exc).__name__}: {exc}"})
    json.dump(out, sys.stdout)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

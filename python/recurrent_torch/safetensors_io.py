"""safetensors read and write for torch 1.13, which has no safetensors of its own (and Debian no
python3-safetensors): an 8-byte little-endian header length, a JSON header (`__metadata__` of strings,
then name -> {dtype, shape, data_offsets}), the packed little-endian data. Written as recurrent's writer
(src/io/safetensors.ts) orders it: compact JSON, metadata keys sorted, tensors by dtype width then name."""
import json, os, secrets, struct
import torch

DTYPES = {'F32': torch.float32, 'F64': torch.float64, 'I32': torch.int32, 'I64': torch.int64}
NAMES = {v: k for k, v in DTYPES.items()}
RANK = {'I32': 0, 'F32': 1, 'F64': 2, 'I64': 3}


def read(path):
    """(tensors: name -> torch tensor (a copy), metadata: dict of strings)."""
    with open(path, 'rb') as f:
        return decode(f.read(), path)


def decode(data, path):
    """read() of the bytes of a file (`path` names it in errors)."""
    if len(data) < 8:
        raise ValueError(f'{path}: too short to be safetensors')
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__', None) or {}
    base = 8 + n
    tensors = {}
    for name, h in header.items():
        if h['dtype'] not in DTYPES:
            raise ValueError(f'{path}: tensor {name} has dtype {h["dtype"]}, expected one of {sorted(DTYPES)}')
        a, b = h['data_offsets']
        buf = bytearray(data[base + a: base + b])
        t = torch.frombuffer(buf, dtype=DTYPES[h['dtype']]) if b > a else torch.empty(0, dtype=DTYPES[h['dtype']])
        tensors[name] = t.reshape(h['shape']).clone()
    return tensors, meta


def encode(tensors, metadata=None):
    """The bytes of a safetensors file."""
    entries = []
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if t.dtype not in NAMES:
            raise ValueError(f'{name}: dtype {t.dtype} is not one safetensors here writes')
        entries.append((name, NAMES[t.dtype], t))
    entries.sort(key=lambda e: (-RANK[e[1]], e[0]))
    header, offset, blobs = {}, 0, []
    if metadata is not None:
        header['__metadata__'] = {k: metadata[k] for k in sorted(metadata)}
    for name, dtype, t in entries:
        blob = t.numpy().astype(t.numpy().dtype.newbyteorder('<'), copy=False).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    js = json.dumps(header, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    js += b' ' * ((8 - len(js) % 8) % 8)
    return struct.pack('<Q', len(js)) + js + b''.join(blobs)


def write_atomic(path, data):
    """Replaces path with data (bytes) atomically: a temporary file named as recurrent names its own
    (`.NAME.PID.RAND.tmp`, which a recurrent run that takes the directory's lock removes if a crash left it),
    synced, then renamed into place, and the directory synced."""
    d, name = os.path.split(path)
    tmp = os.path.join(d, f'.{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp')
    try:
        with open(tmp, 'xb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    fsync_dir(d or '.')


def fsync_dir(d):
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(path, tensors, metadata=None):
    """A safetensors file, written atomically."""
    write_atomic(path, encode(tensors, metadata))

"""recurrent's run lock on a checkpoint directory, as src/train/checkpoint-directory.ts takes it, so that a
recurrent run and a twin run on one directory refuse each other: DIR/.lock holds {pid, host, started}, made
whole by writing a file of this process's and hard-linking it into place (a link fails when the lock exists,
and no run ever reads a lock half written). A lock whose process no longer runs on this host, or one that is
unreadable and older than STALE_SEC, is taken over under the mutex DIR/.lock.takeover, and only while it is
still the lock seen. Once it holds the lock, a run finishes or clears an interrupted save (checkpoint.recover)."""
import datetime, json, os, secrets, socket, time
from .checkpoint import CheckpointError, recover

LOCK = '.lock'
# checkpoint-directory.ts's STALE_MS: a lock or takeover mutex older than this, unreadable or left behind, belongs to no run.
STALE_SEC = 10.0


def read_text_or_none(path):
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except FileNotFoundError:
        return None


def parse_lock(text):
    """A lock's {pid, host, started?}, or None when the text is not a lock (written by hand, or torn)."""
    try:
        held = json.loads(text)
    except ValueError:
        return None
    if not isinstance(held, dict):
        return None
    pid, host = held.get('pid'), held.get('host')
    # Number.isSafeInteger's test: JSON's true is no pid, nor is 1.5.
    if type(pid) is not int or abs(pid) > 2 ** 53 - 1 or not isinstance(host, str):
        return None
    return held


def age_sec(path):
    try:
        return time.time() - os.stat(path).st_mtime
    except OSError:
        return float('inf')


def holder_runs(held):
    """Whether the lock's process still runs; on another host it cannot be told, so it counts as running."""
    if held['host'] != socket.gethostname():
        return True
    try:
        os.kill(held['pid'], 0)
        return True
    except PermissionError:
        return True  # it runs, as another user
    except ProcessLookupError:
        return False


def take_mutex(path):
    """Makes the directory path (creating a directory is atomic); one a crash left long ago is removed, for the next try."""
    try:
        os.mkdir(path)
        return True
    except FileExistsError:
        if age_sec(path) > STALE_SEC:
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass  # removed by another run meanwhile
        return False
    except OSError as e:
        raise CheckpointError(f'cannot lock {path}: {e.strerror}')


def since(held):
    # A lock of a hand or another version may lack `started`; the message says so rather than failing on it.
    started = held.get('started')
    return 'an unknown time' if started is None else started


def with_recovery(directory, note, release):
    """The lock's note joined with checkpoint.recover's, as recurrent joins them; the lock is released if recovery fails."""
    try:
        recovered = recover(directory)
    except BaseException:
        release()
        raise
    if recovered is None or note is None:
        return note or recovered
    return f'{note}; {recovered[len(directory) + 2:]}'


def lock(directory):
    """Takes directory's lock (making the directory if need be), then recovers an interrupted save; returns
    (note, release): a note to show (a lock taken over, a save finished) or None, and the function that removes the lock if it is still this process's, and the directory
    if this made it and it is left empty. A live holder is a one-line CheckpointError naming it."""
    made = not os.path.exists(directory)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, LOCK)
    takeover = f'{path}.takeover'
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='milliseconds').replace('+00:00', 'Z')
    me = json.dumps({'pid': os.getpid(), 'host': socket.gethostname(), 'started': started}, separators=(',', ':'))

    def release():
        if read_text_or_none(path) == me:
            os.remove(path)
        if made and os.path.isdir(directory) and not os.listdir(directory):
            os.rmdir(directory)

    tmp = f'{path}.{os.getpid()}.{secrets.token_hex(4)}'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(me)
    try:
        note = None
        for _ in range(20):
            try:
                os.link(tmp, path)
                return with_recovery(directory, note, release), release
            except FileExistsError:
                pass
            except OSError as e:
                raise CheckpointError(f'cannot lock {directory}: {e.strerror}')
            seen = read_text_or_none(path)
            if seen is None:
                continue  # released meanwhile: try again
            held = parse_lock(seen)
            if held is not None and holder_runs(held):
                host = '' if held['host'] == socket.gethostname() else f' on {held["host"]}'
                raise CheckpointError(f'{directory} is in use by process {held["pid"]}{host} (training since {since(held)}); '
                                      'wait for it to end, or choose another --out')
            if held is None and age_sec(path) < STALE_SEC:
                raise CheckpointError(f'{directory} is in use (its {LOCK} is not readable: another version\'s run may be starting); '
                                      f'wait, or remove {path} if no run uses it')
            # Taken over under the mutex, and only if the lock is still the one seen: two runs that both saw a
            # dead run's lock must not both remove it and take it.
            if not take_mutex(takeover):
                time.sleep(0.05)
                continue
            try:
                if read_text_or_none(path) == seen:
                    os.remove(path)
                    note = (f'{directory}: took over an unreadable lock ({LOCK}) left by a run that crashed' if held is None else
                            f'{directory}: took over the lock of process {held["pid"]}, which no longer runs (it was training since {since(held)})')
            finally:
                os.rmdir(takeover)
        raise CheckpointError(f'cannot lock {directory}: other runs keep taking it')
    finally:
        os.remove(tmp)

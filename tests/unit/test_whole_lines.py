"""local/whole_lines.py: threads writing to one stream through it never cut each other's
lines, even when each writes a line in pieces (as print does: the text, then "\\n")."""

from __future__ import annotations

import io
import threading

from local.whole_lines import whole_lines


def test_lines_written_in_pieces_by_many_threads_stay_whole() -> None:
    out = io.StringIO()
    stdout, stderr = whole_lines(out, out)  # type: ignore[arg-type]
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        stream = stdout if n % 2 else stderr
        start.wait()
        for i in range(300):
            stream.write(f'{{"thread": {n}, ')
            stream.write(f'"line": {i}}}')
            stream.write("\n")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 8 * 300
    assert all(line.startswith('{"thread": ') and line.endswith("}") for line in lines)
    for n in range(8):  # each thread's lines in its order
        mine = [line for line in lines if line.startswith(f'{{"thread": {n},')]
        assert mine == [f'{{"thread": {n}, "line": {i}}}' for i in range(300)]


def test_text_without_a_newline_waits_for_its_line() -> None:
    out = io.StringIO()
    (stream,) = whole_lines(out)  # type: ignore[arg-type]
    stream.write("half")
    assert out.getvalue() == ""
    stream.write(" and the rest\nnext")
    assert out.getvalue() == "half and the rest\n"


def test_a_flush_writes_the_unfinished_line() -> None:
    out = io.StringIO()
    (stream,) = whole_lines(out)  # type: ignore[arg-type]
    stream.write("no newline at the end")
    stream.flush()
    assert out.getvalue() == "no newline at the end"

"""The local Runtime API and runner, exercised through the real awslambdaric runtime client.

Every test here runs handlers in real `python -m awslambdaric` processes: what passes here is
what the Lambda bootstrap does with our events, contexts, errors and deadlines.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sysconfig
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.lambda_runner import FunctionResult, LambdaFunction
from emulators.process_output import LogBuffer, OutputFile
from emulators.runtime_api import RuntimeAPIServer
from emulators.runtime_http import API_PREFIX

HANDLERS = Path(__file__).parent / "handlers"
SECRET = "probe-secret-value-must-not-be-logged"


@pytest.fixture(scope="module")
def echo() -> Iterator[LambdaFunction]:
    with LambdaFunction("echo.handler", HANDLERS, function_name="echo", timeout_s=3.0) as fn:
        yield fn


@pytest.fixture(scope="module")
def probe() -> Iterator[LambdaFunction]:
    env = {"PROBE_SETTING": "from-env", "AWS_SECRET_ACCESS_KEY": SECRET}
    with LambdaFunction(
        "context_probe.handler",
        HANDLERS,
        function_name="probe",
        env=env,
        timeout_s=2.0,
        memory_mb=256,
        region="eu-west-1",
    ) as fn:
        yield fn


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_echo_round_trip_then_warm_invocations_reuse_the_process(echo: LambdaFunction) -> None:
    echo.recycle()
    first = echo.invoke({"partnerId": "acme", "n": [1, 2.5, None, "é"]})
    assert not first.is_error, first.payload
    assert first.payload["event"] == {"partnerId": "acme", "n": [1, 2.5, None, "é"]}
    assert first.cold_start
    assert first.init_ms is not None and first.cold_start_ms is not None
    assert 0 < first.init_ms < first.cold_start_ms
    assert first.duration_ms is not None and first.duration_ms < first.cold_start_ms

    warm = [echo.invoke({"n": i}) for i in range(5)]
    assert [r.payload["event"] for r in warm] == [{"n": i} for i in range(5)]
    assert {r.payload["pid"] for r in warm} == {first.payload["pid"]} == {first.pid}
    assert not any(r.cold_start for r in warm)
    assert all(r.cold_start_ms is None and r.init_ms is None for r in warm)
    assert len({r.request_id for r in [first, *warm]}) == 6


def test_warm_invocations_are_not_delayed_by_nagle(echo: LambdaFunction) -> None:
    echo.invoke({})  # make sure the process is warm
    totals = [echo.invoke({"i": i}).total_ms for i in range(7)]
    # Nagle plus delayed ACK costs ~40-85 ms per call; a warm echo takes about 1 ms.
    assert statistics.median(totals) < 30.0, totals


def test_context_fields_reach_the_handler(probe: LambdaFunction) -> None:
    result = probe.invoke({}, client_context={"custom": {"partner": "acme"}})
    seen = result.payload
    assert not result.is_error, seen
    assert seen["aws_request_id"] == result.request_id
    assert seen["function_name"] == "probe"
    assert seen["function_version"] == "$LATEST"
    assert seen["memory_limit_in_mb"] == "256"
    assert seen["log_group_name"] == "/aws/lambda/probe"
    assert seen["invoked_function_arn"] == probe.function_arn
    assert probe.function_arn == "arn:aws:lambda:eu-west-1:123456789012:function:probe"
    assert seen["client_context_custom"] == {"partner": "acme"}
    assert seen["region"] == "eu-west-1"
    assert seen["custom_env"] == "from-env"
    assert seen["task_root"] == str(HANDLERS.resolve())
    assert seen["handler"] == "context_probe.handler"
    first, second = seen["remaining_ms"]
    assert 1500 < first <= 2000  # the deadline starts when /next hands the event out
    assert 0 < second < first


def test_trace_id_header_becomes_the_handler_env_var(probe: LambdaFunction) -> None:
    sampled = probe.invoke({}, sampled=True)
    assert sampled.trace_id.startswith("Root=1-") and sampled.trace_id.endswith(";Sampled=1")
    assert sampled.payload["trace_id"] == sampled.trace_id

    unsampled = probe.invoke({})
    assert unsampled.payload["trace_id"].endswith(";Sampled=0")
    assert unsampled.payload["trace_id"] != sampled.trace_id

    chosen = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    assert probe.invoke({}, trace_id=chosen).payload["trace_id"] == chosen


def test_function_sees_only_task_root_layers_and_runtime(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    (layer / "python").mkdir(parents=True)
    site_packages = Path(sysconfig.get_paths()["purelib"])
    with LambdaFunction(
        "context_probe.handler", HANDLERS, layer_dirs=[layer], extra_paths=[site_packages]
    ) as fn:
        path = fn.invoke({}).payload["sys_path"]
    assert path[0] == str(HANDLERS.resolve())
    assert path.index(str(layer / "python")) < path.index(str(site_packages))

    with LambdaFunction("context_probe.handler", HANDLERS) as bare:
        bare_path = bare.invoke({}).payload["sys_path"]
    assert str(site_packages) not in bare_path
    assert not any("site-packages" in entry for entry in bare_path)


def test_handler_exception_is_an_error_result_and_keeps_the_process() -> None:
    with LambdaFunction("raises.handler", HANDLERS) as fn:
        first = fn.invoke({"partnerId": "acme"})
        second = fn.invoke({})
    assert first.is_error and not first.timed_out and not first.init_error
    assert first.error_type == "PartnerRefused"
    assert first.error_message == f"partner refused request {first.request_id}"
    assert first.payload["errorType"] == "PartnerRefused"
    assert any("raises.py" in frame for frame in first.payload["stackTrace"])
    assert first.xray_error_cause and "PartnerRefused" in first.xray_error_cause
    assert "[ERROR] PartnerRefused" in first.logs
    assert second.is_error and not second.cold_start and second.pid == first.pid
    assert first.cold_start_ms is not None  # an error answer is still the first response


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("broken_import.handler", "RuntimeError", "broken at import"),
        ("echo.missing", "Runtime.HandlerNotFound", "Handler 'missing' missing on module"),
        ("no_such_module.handler", "Runtime.ImportModuleError", "Unable to import module"),
    ],
)
def test_init_error_is_reported_and_the_next_invoke_starts_fresh(
    handler: str, error_type: str, message: str
) -> None:
    with LambdaFunction(handler, HANDLERS) as fn:
        first = fn.invoke({})
        second = fn.invoke({})
    for result in (first, second):
        assert result.is_error and result.init_error and not result.timed_out
        assert result.cold_start and result.cold_start_ms is None
        assert result.error_type == error_type
        assert message in (result.error_message or "")
        assert result.payload["requestId"] == result.request_id
        assert "INIT_REPORT" in result.logs and f"Error Type: {error_type}" in result.logs
    assert fn.processes_started == 2
    assert first.pid is not None and not _alive(first.pid)


def test_timeout_kills_the_process_and_the_next_invoke_is_a_cold_start() -> None:
    with LambdaFunction("sleepy.handler", HANDLERS, timeout_s=1.0) as fn:
        warm = fn.invoke({"sleep_s": 0})
        late = fn.invoke({"sleep_s": 30})
        after = fn.invoke({"sleep_s": 0})
        again = fn.invoke({"sleep_s": 0})
    assert warm.cold_start and not warm.is_error
    assert late.timed_out and late.is_error and not late.cold_start
    assert late.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in (late.error_message or "")
    assert late.duration_ms is not None and 950 < late.duration_ms < 1500
    assert late.pid == warm.pid and late.pid is not None and not _alive(late.pid)
    assert "Task timed out after 1.00 seconds" in late.logs and "Status: timeout" in late.logs
    assert after.cold_start and not after.is_error and after.pid != late.pid
    assert after.payload == {"slept": 0, "pid": after.pid}
    assert not again.cold_start and again.pid == after.pid
    assert fn.processes_started == 2


def test_runtime_crash_mid_invocation_is_an_exit_error_then_cold_again() -> None:
    with LambdaFunction("exits.handler", HANDLERS, timeout_s=5.0) as fn:
        crashed = fn.invoke({"code": 3})
        next_one = fn.invoke({"code": 4})
    assert crashed.is_error and crashed.error_type == "Runtime.ExitError"
    assert "exit status 3" in (crashed.error_message or "")
    assert crashed.total_ms < 2000  # noticed at once, not at the deadline
    assert "exits: about to die" in crashed.logs
    assert next_one.cold_start and "exit status 4" in (next_one.error_message or "")


def test_logs_are_captured_per_invocation_and_as_a_whole(probe: LambdaFunction) -> None:
    with LambdaFunction("echo.handler", HANDLERS) as fn:
        one = fn.invoke({})
        two = fn.invoke({})
        everything = fn.logs()
    assert f"echo init pid={one.pid}" in one.logs  # init output belongs to the cold invocation
    assert f"echo marker request_id={one.request_id}" in one.logs
    assert f"START RequestId: {one.request_id}" in one.logs
    assert f"REPORT RequestId: {one.request_id}" in one.logs and "Init Duration" in one.logs
    assert one.request_id not in two.logs and "echo init" not in two.logs
    assert f"echo marker request_id={two.request_id}" in two.logs
    assert "Init Duration" not in two.logs
    assert one.logs in everything and two.logs in everything
    assert everything.index(one.request_id) < everything.index(two.request_id)
    # Scanning logs for secrets works: the probe has a secret in its env and never prints it.
    probe.invoke({})
    assert SECRET not in probe.logs()


def test_output_goes_to_a_file_read_on_demand_not_a_reader_thread(tmp_path: Path) -> None:
    """No thread of the runner's process reads the runtime's output while an invocation runs
    (it would compete with the Runtime API thread that times the response), and the runtime
    never waits on it: 1 MiB printed in one invocation arrives whole."""
    big = 1024 * 1024
    with LambdaFunction("echo.handler", HANDLERS, timeout_s=10.0) as fn:
        threads_before = set(threading.enumerate())
        result = fn.invoke({"print_bytes": big})
        new_threads = [t.name for t in set(threading.enumerate()) - threads_before]
        # only the Runtime API's own: its connection threads
        assert [n for n in new_threads if "process_request_thread" not in n] == []
        workdir = fn.runtime_environment()["LAMBDA_RUNTIME_DIR"]
    assert not result.is_error and result.logs.count("x" * 1000) >= big // 1000
    assert "x" * big in result.logs
    assert not Path(workdir).parent.exists()  # the output file went with the runner's files


def test_server_alone_keeps_connections_alive_and_refuses_unknown_ids() -> None:
    with RuntimeAPIServer() as server:
        host, port = server.address.split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        for _ in range(2):  # two requests on one keep-alive connection
            conn.request("POST", f"{API_PREFIX}/invocation/nope/response", body=b"{}")
            reply = conn.getresponse()
            assert reply.status == 400
            assert json.loads(reply.read())["errorType"] == "InvalidRequestID"
        conn.close()

        unserved = server.invoke({"x": 1}, timeout_s=1.0, handout_timeout_s=0.2)
        assert unserved.timed_out and unserved.error_type == "Sandbox.Timedout"
        assert unserved.handed_out_at is None and unserved.total_ms < 1000


def test_invoke_before_start_is_refused() -> None:
    fn = LambdaFunction("echo.handler", HANDLERS)
    with pytest.raises(RuntimeError, match="not started"):
        fn.invoke({})
    with pytest.raises(ValueError, match="PYTHONPATH"):
        LambdaFunction("echo.handler", HANDLERS, env={"PYTHONPATH": "/elsewhere"})


def test_results_are_function_results(echo: LambdaFunction) -> None:
    result = echo.invoke({"k": "v"})
    assert isinstance(result, FunctionResult)
    assert result.content_type == "application/json"
    assert json.loads(result.raw) == result.payload
    assert result.deadline_ms is not None


def test_an_output_file_closed_twice_closes_nothing_else(tmp_path: Path) -> None:
    output = OutputFile(tmp_path / "out.log", LogBuffer())
    os.write(output.fd, b"line\n")
    output.close()
    other = os.open(tmp_path / "other", os.O_WRONLY | os.O_CREAT)  # may reuse a freed number
    try:
        output.close()
        os.fstat(other)  # still open
    finally:
        os.close(other)
    assert not (tmp_path / "out.log").exists()

"""Local stand-ins for AWS that know nothing of partnerdb.

Import each from its module (a package-level import would load moto and awslambdaric for
every `python -m emulators.<module>` run):

- `emulators.runtime_api`: the Lambda Runtime API server (`RuntimeAPIServer`), with its HTTP
  side in `emulators.runtime_http` and its records in `emulators.runtime_invocations`.
- `emulators.lambda_runner`: one execution environment running the real awslambdaric
  (`LambdaFunction`, `FunctionResult`), started by `emulators.runtime_process`;
  `emulators.runtime_link` builds its /var/runtime
  (`link_runtime`), `emulators.process_output` collects the runtime's output.
- `emulators.snapstart`: Lambda SnapStart: a snapshot process whose forks are the restored
  execution environments (`SnapStartFunction`); `emulators.snapstart_bootstrap` is its
  runtime side.
- `emulators.lambda_context`: an in-process `FakeContext` for calling a handler directly.
- `emulators.moto_server`: moto in server mode (`start_moto`, `moto_process`, `assumed_roles`).
- `emulators.fault_server`: a misbehaving DynamoDB/STS endpoint (`FaultServer` and behaviours).
- `emulators.ddblocal`: AWS's DynamoDB Local as a process (`DynamoDBLocal`, the CLI);
  `emulators.ddblocal_fetch` fetches and caches its jar (`fetch`).
- `emulators.ports`: `free_port`, `closed_port_url`.
- `emulators.sqs_event_source`: Lambda's SQS event source mapping against an SQS endpoint
  (`SqsEventSource`, `batch_item_failures`).
"""

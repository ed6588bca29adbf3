import { describe, expect, expectTypeOf, it } from 'vitest';
import * as proto from '../../proto/index.js';
import {
  Any,
  Empty,
  Envelope,
  ForwardRequest,
  KeyValue,
  Mount,
  ProtoDecodeError,
  ProtoReader,
  StateResponse,
  Status,
  TaskEvents,
  TaskExit,
  TaskMethods,
  TaskStatus,
  Timestamp,
  TtrpcRequest,
  TtrpcResponse,
  UpdateTaskRequest,
  anyIs,
  dateFromTimestamp,
  message,
  packAny,
  timestampFromDate,
  timestampNow,
  unpackAny,
} from '../../proto/index.js';
import type { MessageCodec, MessageType } from '../../proto/index.js';
import { DeleteResponse as ShimDeleteResponse } from '../../proto/shim.js';

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)(?=.)/g, '$1 ');
}

function bytesOf(spaced: string): Uint8Array {
  return Uint8Array.from(Buffer.from(spaced.replace(/ /g, ''), 'hex'));
}

const text = (s: string): string => hex(new TextEncoder().encode(s));

describe('known byte vectors', () => {
  const exitBytes =
    '0a 02 63 31' + // 1 container_id "c1"
    ' 12 02 65 31' + // 2 id "e1"
    ' 18 2a' + // 3 pid 42
    ' 20 89 01' + // 4 exit_status 137
    ' 2a 08 08 80 e2 cf aa 06 10 05'; // 5 exited_at {1 seconds 1700000000, 2 nanos 5}

  it('TaskExit encodes field by field in number order', () => {
    const bytes = TaskExit.encode({
      exitedAt: { seconds: 1700000000n, nanos: 5 },
      exitStatus: 137,
      pid: 42,
      id: 'e1',
      containerId: 'c1',
    });
    expect(hex(bytes)).toBe(exitBytes);
  });

  it('TaskExit decodes from those bytes', () => {
    expect(TaskExit.decode(bytesOf(exitBytes))).toEqual({
      containerId: 'c1',
      id: 'e1',
      pid: 42,
      exitStatus: 137,
      exitedAt: { seconds: 1700000000n, nanos: 5 },
    });
  });

  it('ttrpc Request with a deadline and metadata', () => {
    const expected = '0a 01 73 12 01 6d 1a 02 01 02 20 80 a8 d6 b9 07 2a 06 0a 01 6b 12 01 76';
    const value = {
      service: 's',
      method: 'm',
      payload: Uint8Array.of(1, 2),
      timeoutNano: 2_000_000_000n,
      metadata: [{ key: 'k', value: 'v' }],
    };
    expect(hex(TtrpcRequest.encode(value))).toBe(expected);
    expect(TtrpcRequest.decode(bytesOf(expected))).toEqual(value);
  });

  it('ttrpc Response with an error status, and an empty success', () => {
    const expected = `0a 0d 08 0c 12 09 ${text('service x')}`;
    expect(hex(TtrpcResponse.encode({ status: { code: 12, message: 'service x', details: [] } }))).toBe(expected);
    expect(TtrpcResponse.decode(bytesOf(expected))).toEqual({
      status: { code: 12, message: 'service x', details: [] },
      payload: new Uint8Array(0),
    });
    // containerd 1.6 answers success with a zero-length Response: no status, empty payload.
    expect(TtrpcResponse.encode({ payload: new Uint8Array(0) }).length).toBe(0);
    expect(TtrpcResponse.decode(new Uint8Array(0))).toEqual({ status: undefined, payload: new Uint8Array(0) });
  });

  it('a negative int32 field takes 10 bytes', () => {
    expect(hex(Status.encode({ code: -1 }))).toBe('08 ff ff ff ff ff ff ff ff ff 01');
    expect(Status.decode(bytesOf('08 ff ff ff ff ff ff ff ff ff 01')).code).toBe(-1);
  });

  it('enum fields travel as varints', () => {
    expect(hex(StateResponse.encode({ status: TaskStatus.RUNNING }))).toBe('20 02');
    expect(StateResponse.decode(bytesOf('20 04')).status).toBe(TaskStatus.PAUSED);
  });

  it('map fields are repeated {1 key, 2 value} entries', () => {
    const expected = `1a 06 0a 01 61 12 01 31 1a 05 0a 01 62 12 00`;
    expect(hex(UpdateTaskRequest.encode({ annotations: { a: '1', b: '' } }))).toBe(expected);
    const decoded = UpdateTaskRequest.decode(bytesOf(expected));
    expect({ ...decoded.annotations }).toEqual({ a: '1', b: '' });
  });

  it('fields go out in number order, whatever order they are declared in', () => {
    const OutOfOrder = message('test.OutOfOrder', {
      b: { no: 2, type: 'uint32' },
      a: { no: 1, type: 'string' },
    });
    expect(hex(OutOfOrder.encode({ b: 1, a: 'x' }))).toBe('0a 01 78 10 01');
    expect(() => message('test.Clash', { a: { no: 1, type: 'bool' }, b: { no: 1, type: 'bool' } })).toThrow(/used twice/);
  });

  it('repeated strings are never packed', () => {
    expect(hex(Mount.encode({ options: ['rw', 'x'] }))).toBe('22 02 72 77 22 01 78');
  });
});

describe('proto3 defaults', () => {
  it('decode fills defaults for every absent field', () => {
    expect(TaskExit.decode(new Uint8Array(0))).toEqual({
      containerId: '',
      id: '',
      pid: 0,
      exitStatus: 0,
      exitedAt: undefined,
    });
    const state = StateResponse.decode(new Uint8Array(0));
    expect(state.status).toBe(TaskStatus.UNKNOWN);
    expect(state.terminal).toBe(false);
    expect(Mount.decode(new Uint8Array(0)).options).toEqual([]);
    expect(TtrpcRequest.decode(new Uint8Array(0)).timeoutNano).toBe(0n);
    expect(UpdateTaskRequest.decode(new Uint8Array(0)).annotations).toEqual({});
  });

  it('encode omits defaults', () => {
    expect(StateResponse.encode(StateResponse.create()).length).toBe(0);
    expect(TtrpcRequest.encode({ service: '', timeoutNano: 0n, metadata: [], payload: new Uint8Array(0) }).length).toBe(0);
    expect(Empty.encode({}).length).toBe(0);
  });

  it('a present sub-message is sent even when empty', () => {
    expect(hex(Envelope.encode({ timestamp: { seconds: 0n, nanos: 0 } }))).toBe('0a 00');
    expect(Envelope.decode(bytesOf('0a 00')).timestamp).toEqual({ seconds: 0n, nanos: 0 });
  });

  it('create() returns a full object with the given fields', () => {
    expect(TaskExit.create({ id: 'x', pid: undefined })).toEqual({
      containerId: '',
      id: 'x',
      pid: 0,
      exitStatus: 0,
      exitedAt: undefined,
    });
    // Fresh defaults each time: no shared arrays between messages.
    const a = Mount.create();
    a.options.push('ro');
    expect(Mount.create().options).toEqual([]);
  });
});

describe('decoding is tolerant where protobuf says so', () => {
  it('skips unknown fields of every wire type', () => {
    const withUnknowns = bytesOf(
      '0a 02 63 31' +
        ' 98 06 07' + // field 99, varint
        ' 12 02 65 31' +
        ' a1 06 01 02 03 04 05 06 07 08' + // field 100, fixed64
        ' 18 2a' +
        ' aa 06 03 61 62 63' + // field 101, length-delimited
        ' 20 89 01' +
        ' b5 06 01 02 03 04' + // field 102, fixed32
        ' 2a 08 08 80 e2 cf aa 06 10 05',
    );
    expect(TaskExit.decode(withUnknowns)).toEqual({
      containerId: 'c1',
      id: 'e1',
      pid: 42,
      exitStatus: 137,
      exitedAt: { seconds: 1700000000n, nanos: 5 },
    });
  });

  it('treats a known field with the wrong wire type as unknown', () => {
    // pid (3) sent as a string, then correctly as a varint
    expect(TaskExit.decode(bytesOf('1a 01 78 18 07')).pid).toBe(7);
  });

  it('last value wins for a repeated scalar; a repeated sub-message merges', () => {
    expect(TaskExit.decode(bytesOf('18 01 18 02')).pid).toBe(2);
    const t = TaskExit.decode(bytesOf('2a 02 08 05 2a 02 10 06'));
    expect(t.exitedAt).toEqual({ seconds: 5n, nanos: 6 });
  });

  it('accepts repeated numbers packed and unpacked', () => {
    const Numbers = message('test.Numbers', {
      values: { no: 1, type: 'uint32', repeated: true },
      signed: { no: 2, type: 'sint64', repeated: true, packed: false },
    });
    expect(hex(Numbers.encode({ values: [1, 150, 3] }))).toBe('0a 04 01 96 01 03');
    expect(hex(Numbers.encode({ signed: [-1n, 1n] }))).toBe('10 01 10 02');
    expect(Numbers.decode(bytesOf('0a 04 01 96 01 03')).values).toEqual([1, 150, 3]);
    expect(Numbers.decode(bytesOf('08 01 08 96 01 0a 01 03')).values).toEqual([1, 150, 3]);
    expect(Numbers.decode(bytesOf('12 02 01 02')).signed).toEqual([-1n, 1n]);
  });

  it('keeps a "__proto__" map key as data', () => {
    const bytes = UpdateTaskRequest.encode({ annotations: { ['__proto__']: 'x', ok: 'y' } as Record<string, string> });
    const decoded = UpdateTaskRequest.decode(bytes);
    expect(Object.keys(decoded.annotations).sort()).toEqual(['__proto__', 'ok']);
    expect(decoded.annotations['__proto__']).toBe('x');
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('round-trips non-ASCII strings', () => {
    const t = TaskExit.decode(TaskExit.encode({ containerId: 'ctr-é-😀' }));
    expect(t.containerId).toBe('ctr-é-😀');
  });
});

describe('malformed messages throw ProtoDecodeError', () => {
  it.each([
    ['a truncated string', '0a 05 63 31'],
    ['a truncated varint', '18 80'],
    ['a truncated sub-message', '2a 07 08 80 e2'],
    ['a sub-message longer than its parent', '0a 00 2a 09 08 01'],
    ['a sub-message whose content overruns it', '2a 02 08 80 80 01'],
    ['a truncated unknown fixed64', 'a1 06 01 02'],
    ['a group (wire type 3)', '0b 0c'],
    ['field number 0', '00 01'],
  ])('%s', (_name, input) => {
    expect(() => TaskExit.decode(bytesOf(input))).toThrow(ProtoDecodeError);
  });

  it('a truncated ttrpc Request', () => {
    const full = TtrpcRequest.encode({ service: 'containerd.task.v2.Task', method: 'State' });
    for (let cut = 1; cut < full.length; cut++) {
      // Every proper prefix either fails or is a shorter valid message; none may crash differently.
      try {
        TtrpcRequest.decode(full.subarray(0, cut));
      } catch (err) {
        expect(err).toBeInstanceOf(ProtoDecodeError);
      }
    }
    expect(() => TtrpcRequest.decode(full.subarray(0, 5))).toThrow(ProtoDecodeError);
  });
});

describe('int64 fields', () => {
  it('round-trip values beyond 2^53', () => {
    const seconds = 2n ** 53n + 1n;
    expect(Timestamp.decode(Timestamp.encode({ seconds })).seconds).toBe(seconds);
    expect(Timestamp.decode(Timestamp.encode({ seconds: -(2n ** 62n) })).seconds).toBe(-(2n ** 62n));
    const timeoutNano = 2n ** 63n - 1n;
    expect(TtrpcRequest.decode(TtrpcRequest.encode({ timeoutNano })).timeoutNano).toBe(timeoutNano);
  });
});

describe('google helpers', () => {
  it('timestampFromDate / dateFromTimestamp', () => {
    expect(timestampFromDate(new Date(1500))).toEqual({ seconds: 1n, nanos: 500_000_000 });
    expect(timestampFromDate(new Date(-1))).toEqual({ seconds: -1n, nanos: 999_000_000 });
    const d = new Date('2024-05-06T07:08:09.123Z');
    expect(dateFromTimestamp(timestampFromDate(d)).getTime()).toBe(d.getTime());
    expect(dateFromTimestamp({ seconds: 1n, nanos: 999_999_999 }).getTime()).toBe(1999);
  });

  it('timestampNow is close to now', () => {
    const before = Date.now();
    const t = timestampNow();
    const ms = dateFromTimestamp(t).getTime();
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now());
    expect(t.nanos).toBeGreaterThanOrEqual(0);
    expect(t.nanos).toBeLessThan(1e9);
  });

  it('packAny uses the bare type name; unpackAny accepts a prefix too', () => {
    const any = packAny(TaskExit, { id: 'x' });
    expect(any.typeUrl).toBe('containerd.events.TaskExit');
    expect(unpackAny(any, TaskExit)?.id).toBe('x');
    const prefixed: Any = { typeUrl: 'type.googleapis.com/containerd.events.TaskExit', value: any.value };
    expect(anyIs(prefixed, TaskExit)).toBe(true);
    expect(unpackAny(prefixed, TaskEvents.start.type)).toBeUndefined();
  });
});

describe('events', () => {
  it('maps each event to its topic and bare type URL', () => {
    const table = Object.fromEntries(Object.entries(TaskEvents).map(([k, v]) => [k, [v.topic, v.typeUrl]]));
    expect(table).toEqual({
      create: ['/tasks/create', 'containerd.events.TaskCreate'],
      start: ['/tasks/start', 'containerd.events.TaskStart'],
      exit: ['/tasks/exit', 'containerd.events.TaskExit'],
      delete: ['/tasks/delete', 'containerd.events.TaskDelete'],
      execAdded: ['/tasks/exec-added', 'containerd.events.TaskExecAdded'],
      execStarted: ['/tasks/exec-started', 'containerd.events.TaskExecStarted'],
      oom: ['/tasks/oom', 'containerd.events.TaskOOM'],
      paused: ['/tasks/paused', 'containerd.events.TaskPaused'],
      resumed: ['/tasks/resumed', 'containerd.events.TaskResumed'],
    });
    for (const e of Object.values(TaskEvents)) expect(e.type.typeName).toBe(e.typeUrl);
    expect(proto.EVENTS_SERVICE).toBe('containerd.services.events.ttrpc.v1.Events');
  });

  it('a Forward of a TaskExit nests envelope → Any → event', () => {
    const exit = { containerId: 'c', id: 'c', pid: 7, exitStatus: 143, exitedAt: { seconds: 10n, nanos: 0 } };
    const bytes = ForwardRequest.encode({
      envelope: {
        timestamp: { seconds: 11n, nanos: 0 },
        namespace: 'default',
        topic: TaskEvents.exit.topic,
        event: packAny(TaskExit, exit),
      },
    });
    const envelope = ForwardRequest.decode(bytes).envelope!;
    expect(envelope.topic).toBe('/tasks/exit');
    expect(envelope.namespace).toBe('default');
    expect(envelope.event?.typeUrl).toBe('containerd.events.TaskExit');
    expect(TaskExit.decode(envelope.event!.value)).toEqual(exit);
  });
});

/** Field numbers straight from shim-protocol.md §3 and §4, checked against the descriptors. */
const FACT_SHEET: Record<string, Record<string, number>> = {
  Timestamp: { seconds: 1, nanos: 2 },
  Any: { typeUrl: 1, value: 2 },
  Status: { code: 1, message: 2, details: 3 },
  KeyValue: { key: 1, value: 2 },
  TtrpcRequest: { service: 1, method: 2, payload: 3, timeoutNano: 4, metadata: 5 },
  TtrpcResponse: { status: 1, payload: 2 },
  Mount: { type: 1, source: 2, target: 3, options: 4 },
  ProcessInfo: { pid: 1, info: 2 },
  StateRequest: { id: 1, execId: 2 },
  StateResponse: {
    id: 1, bundle: 2, pid: 3, status: 4, stdin: 5, stdout: 6, stderr: 7, terminal: 8, exitStatus: 9, exitedAt: 10, execId: 11,
  },
  CreateTaskRequest: {
    id: 1, bundle: 2, rootfs: 3, terminal: 4, stdin: 5, stdout: 6, stderr: 7, checkpoint: 8, parentCheckpoint: 9, options: 10,
  },
  CreateTaskResponse: { pid: 1 },
  StartRequest: { id: 1, execId: 2 },
  StartResponse: { pid: 1 },
  DeleteRequest: { id: 1, execId: 2 },
  DeleteResponse: { pid: 1, exitStatus: 2, exitedAt: 3 },
  PidsRequest: { id: 1 },
  PidsResponse: { processes: 1 },
  PauseRequest: { id: 1 },
  ResumeRequest: { id: 1 },
  CheckpointTaskRequest: { id: 1, path: 2, options: 3 },
  KillRequest: { id: 1, execId: 2, signal: 3, all: 4 },
  ExecProcessRequest: { id: 1, execId: 2, terminal: 3, stdin: 4, stdout: 5, stderr: 6, spec: 7 },
  ResizePtyRequest: { id: 1, execId: 2, width: 3, height: 4 },
  CloseIORequest: { id: 1, execId: 2, stdin: 3 },
  UpdateTaskRequest: { id: 1, resources: 2, annotations: 3 },
  WaitRequest: { id: 1, execId: 2 },
  WaitResponse: { exitStatus: 1, exitedAt: 2 },
  StatsRequest: { id: 1 },
  StatsResponse: { stats: 1 },
  ConnectRequest: { id: 1 },
  ConnectResponse: { shimPid: 1, taskPid: 2, version: 3 },
  ShutdownRequest: { id: 1, now: 2 },
  TaskIO: { stdin: 1, stdout: 2, stderr: 3, terminal: 4 },
  TaskCreate: { containerId: 1, bundle: 2, rootfs: 3, io: 4, checkpoint: 5, pid: 6 },
  TaskStart: { containerId: 1, pid: 2 },
  TaskExit: { containerId: 1, id: 2, pid: 3, exitStatus: 4, exitedAt: 5 },
  TaskDelete: { containerId: 1, pid: 2, exitStatus: 3, exitedAt: 4, id: 5 },
  TaskExecAdded: { containerId: 1, execId: 2 },
  TaskExecStarted: { containerId: 1, execId: 2, pid: 3 },
  TaskOOM: { containerId: 1 },
  TaskPaused: { containerId: 1 },
  TaskResumed: { containerId: 1 },
  Envelope: { timestamp: 1, namespace: 2, topic: 3, event: 4 },
  ForwardRequest: { envelope: 1 },
};

/** uint32 on the wire (pid, exit_status, signal, width, height, shim_pid, task_pid). */
const UINT32_FIELDS = ['pid', 'exitStatus', 'signal', 'width', 'height', 'shimPid', 'taskPid'];

describe('field numbers match the fact sheet', () => {
  const exports = proto as unknown as Record<string, MessageCodec<object>>;
  it.each(Object.keys(FACT_SHEET))('%s', (name) => {
    const codec = exports[name];
    expect(codec, `proto/index.ts exports ${name}`).toBeDefined();
    expect(Object.fromEntries(codec!.fields.map((f) => [f.name, f.no]))).toEqual(FACT_SHEET[name]);
    for (const f of codec!.fields) {
      if (UINT32_FIELDS.includes(f.name)) expect(f).toMatchObject({ kind: 'scalar', type: 'uint32' });
    }
  });

  it('Task methods cover the whole service', () => {
    expect(Object.keys(TaskMethods).sort()).toEqual(
      [
        'Checkpoint', 'CloseIO', 'Connect', 'Create', 'Delete', 'Exec', 'Kill', 'Pause', 'Pids',
        'ResizePty', 'Resume', 'Shutdown', 'Start', 'State', 'Stats', 'Update', 'Wait',
      ].sort(),
    );
    expect(TaskMethods.Kill.response).toBe(Empty);
    expect(proto.TASK_SERVICE).toBe('containerd.task.v2.Task');
    expect(ShimDeleteResponse).toBe(proto.DeleteResponse);
  });

  it('TaskStatus values', () => {
    expect([
      TaskStatus.UNKNOWN,
      TaskStatus.CREATED,
      TaskStatus.RUNNING,
      TaskStatus.STOPPED,
      TaskStatus.PAUSED,
      TaskStatus.PAUSING,
    ]).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('inferred TypeScript types', () => {
  it('carry the protocol', () => {
    expectTypeOf<proto.StateResponse['status']>().toEqualTypeOf<TaskStatus>();
    expectTypeOf<proto.StateResponse['exitedAt']>().toEqualTypeOf<Timestamp | undefined>();
    expectTypeOf<proto.Timestamp>().toEqualTypeOf<{ seconds: bigint; nanos: number }>();
    expectTypeOf<proto.TtrpcRequest['timeoutNano']>().toEqualTypeOf<bigint>();
    expectTypeOf<proto.TtrpcRequest['metadata']>().toEqualTypeOf<KeyValue[]>();
    expectTypeOf<proto.TtrpcResponse['status']>().toEqualTypeOf<Status | undefined>();
    expectTypeOf<proto.UpdateTaskRequest['annotations']>().toEqualTypeOf<Record<string, string>>();
    expectTypeOf<proto.CreateTaskRequest['rootfs']>().toEqualTypeOf<Mount[]>();
    expectTypeOf<proto.KillRequest['signal']>().toEqualTypeOf<number>();
    expectTypeOf<proto.KillRequest['all']>().toEqualTypeOf<boolean>();
    expectTypeOf<Any['value']>().toEqualTypeOf<Uint8Array>();
    expectTypeOf(TaskExit).toExtend<MessageType<proto.TaskExit>>();
    expectTypeOf(TaskEvents.exit.type).toEqualTypeOf<MessageType<proto.TaskExit>>();
  });
});

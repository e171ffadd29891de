// Entry point of the model worker thread: wires the typed protocol to the engine service.
import { parentPort } from 'node:worker_threads';
import type { HostToWorker, WorkerToHost } from '../protocol';
import { EngineService } from './engineService';

const port = parentPort;
if (!port) throw new Error('worker.js must run in a worker thread');
const service = new EngineService((message: WorkerToHost) => port.postMessage(message));
port.on('message', (message: HostToWorker) => service.handle(message));

/**
 * @module agent/api/outbox
 * What a WebSocket client has yet to receive, with bounded memory. Messages go to the socket
 * only while its send buffer is small (HIGH_WATER); the rest waits here. A client that falls so
 * far behind that more than `limitBytes` of live messages wait is closed with a reason, instead
 * of fleetd's memory growing with it. A snapshot (everything current) is paced the same way but
 * not counted: it is bounded by the size of the cluster, not by how slowly the client reads.
 */
import type { WebSocket } from "ws";

/** Stop writing to the socket above this many unsent bytes. */
const HIGH_WATER = 1 << 20;

export class Outbox {
  readonly #snapshot: string[] = [];
  #snapshotHead = 0;
  readonly #live: string[] = [];
  #liveHead = 0;
  #liveBytes = 0;
  #closed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly limitBytes: number,
    private readonly onOverflow: (waitingBytes: number) => void,
  ) {}

  /** Queues messages that are not counted against the limit; they go before anything later. */
  pushSnapshot(messages: readonly string[]): void {
    for (const m of messages) this.#snapshot.push(m);
    this.#pump();
  }

  push(message: string): void {
    if (this.#closed) return;
    this.#live.push(message);
    this.#liveBytes += message.length;
    if (this.#liveBytes > this.limitBytes) {
      this.close();
      this.onOverflow(this.#liveBytes);
      return;
    }
    this.#pump();
  }

  /** Bytes waiting here (not yet handed to the socket). */
  get waitingBytes(): number {
    return this.#liveBytes;
  }

  close(): void {
    this.#closed = true;
    this.#snapshot.length = 0;
    this.#live.length = 0;
    this.#snapshotHead = 0;
    this.#liveHead = 0;
    this.#liveBytes = 0;
  }

  #pump = (): void => {
    if (this.#closed) return;
    while (this.ws.readyState === this.ws.OPEN && this.ws.bufferedAmount < HIGH_WATER) {
      let msg: string | undefined;
      if (this.#snapshotHead < this.#snapshot.length) {
        msg = this.#snapshot[this.#snapshotHead++];
        if (this.#snapshotHead === this.#snapshot.length) {
          this.#snapshot.length = 0;
          this.#snapshotHead = 0;
        }
      } else if (this.#liveHead < this.#live.length) {
        msg = this.#live[this.#liveHead++] as string;
        this.#liveBytes -= msg.length;
        if (this.#liveHead > 1024 && this.#liveHead * 2 > this.#live.length) {
          this.#live.splice(0, this.#liveHead);
          this.#liveHead = 0;
        }
      } else return;
      // The callback runs once the frame left for the kernel: room again, pump on.
      this.ws.send(msg as string, this.#pump);
    }
  };
}

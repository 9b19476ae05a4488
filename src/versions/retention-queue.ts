/**
 * Users whose versions or trash just grew (an overwrite kept a version, a delete went to the
 * trash). Nextcloud schedules an expiry for them right away (Storage::scheduleExpire,
 * Trashbin::scheduleExpire) so that versions and trash do not stay over the space they may take
 * until the next periodic run; here the recorders mark the owner inside their transaction and the
 * background jobs take the marks within seconds (runMarked). A mark of a rolled-back write only
 * costs a check. Per process: each server process drains what it marked.
 */
export class RetentionQueue {
  readonly #uids = new Set<string>();

  mark(uid: string): void { this.#uids.add(uid); }

  /** The users marked since the last take. */
  take(): string[] {
    const out = [...this.#uids];
    this.#uids.clear();
    return out;
  }
}

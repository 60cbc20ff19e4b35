// A bundle that cannot be made as asked: one line saying what is wrong and what to do.
export class PackError extends Error {
  readonly code = 'WISP_PACK';
  constructor(message: string) {
    super(message);
    this.name = 'PackError';
  }
}

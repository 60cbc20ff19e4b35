// ProfileError: a device profile that cannot be read, parsed, validated or planned against a model.
// Every problem names the file and the field (a JSON pointer), one line each:
//   device-profiles/x.json: /routing/rules/2/layers: "0-99" is past the model's 12 layers (0-11)

export interface ProfileProblem {
  /** JSON pointer into the profile ("" for the whole file). */
  pointer: string;
  message: string;
}

export class ProfileError extends Error {
  readonly code = 'WISP_PROFILE_INVALID';
  constructor(
    readonly source: string,
    readonly problems: ProfileProblem[],
  ) {
    super(problems.map((p) => `${source}: ${p.pointer ? `${p.pointer}: ` : ''}${p.message}`).join('\n'));
    this.name = 'ProfileError';
  }
}

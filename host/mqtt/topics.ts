// Topic names of the protocol (docs/PROTOCOL.md): the one place they are spelled, for the service,
// the clients and the broker's ACL alike.
export const topics = {
  /** Every topic of one device is under this. */
  device: (device: string) => `wisp/${device}`,
  infer: (device: string) => `wisp/${device}/infer`,
  cancel: (device: string) => `wisp/${device}/cancel`,
  status: (device: string) => `wisp/${device}/status`,
  control: (device: string) => `wisp/${device}/control/#`,
  /** Replies for an authenticated user go under this prefix. */
  replyPrefix: (device: string, user: string) => `wisp/${device}/reply/${user}/`,
  /** The default reply topic: under the user's prefix when the broker authenticates users. */
  reply: (device: string, id: string, user?: string) => (user ? `${topics.replyPrefix(device, user)}${id}` : `wisp/${device}/reply/${id}`),
  fleetInfer: (group: string) => `$share/${group}/wisp/fleet/infer`,
  /** The topic fleet requests are published to (devices subscribe with fleetInfer). */
  fleetPublish: 'wisp/fleet/infer',
};

/** Who a request runs as, once authenticated. */
export interface AuthenticatedUser {
  readonly uid: string;
  readonly displayName: string;
  readonly isAdmin: boolean;
  /** How the credentials were presented. */
  readonly via: 'password' | 'app-password' | 'session';
  /**
   * The login password when `via` is 'password' (per-user-key mode needs it to unwrap the
   * user's private key); never logged, never stored.
   */
  readonly loginPassword?: string;
  /** The app password's id when `via` is 'app-password' (to revoke the one in use). */
  readonly appPasswordId?: number;
}

/** A user as services see it (no password hash). */
export interface UserRecord {
  readonly uid: string;
  readonly displayName: string;
  readonly email: string | null;
  /** Bytes, or null for unlimited. */
  readonly quota: number | null;
  readonly enabled: boolean;
  readonly isAdmin: boolean;
  readonly createdAt: number;
  readonly lastLogin: number | null;
}

export interface CreateUserInput {
  uid: string;
  password: string;
  displayName?: string;
  email?: string;
  isAdmin?: boolean;
  quota?: number | null;
}

import { ForbiddenError } from '../../errors.ts';

/**
 * A sharee has no seal of the share key yet (a group member without a key pair when the share was
 * made, or added later): it is sealed when the owner next logs in. Maps to 403.
 */
export class ShareKeyNotSealedError extends ForbiddenError {
  constructor(owner: string, uid: string) {
    super(`the files ${owner} shared are not yet encrypted for user ${uid}: access is granted (the key is sealed) when ${owner} next logs in`);
  }
}

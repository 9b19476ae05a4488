import { createHash } from 'node:crypto';
import { hkdfSha256 } from '../../crypto/kdf.ts';
import { KEY_SIZE, encodeFileId } from '../../crypto/format.ts';

/**
 * Key files of per-user-mode sharing, in the OWNER's key folder (`<uid>/files_encryption/…`), named
 * by file id or key id, never by path. One share key K_N per shared node N.
 */

/** `shareNode_<fileId>.json`: which share key belongs to node `fileId`. */
export interface ShareNodePointer {
  readonly format: 'coffer-key-v1';
  readonly kind: 'share-node';
  readonly owner: string;
  readonly fileId: number;
  readonly keyId: string;
}

/**
 * `shareKey_<id>.key`: K_N for its owner — wrapped by the owner's root key R_u (`root`), or, when a
 * sharee created it by resharing a subfolder, by the share key of an enclosing shared node (`share`).
 */
export interface ShareKeyFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'share-key';
  readonly owner: string;
  readonly id: string;
  readonly fileId: number;
  readonly created: string;
  readonly wrappedBy: { readonly type: 'root' | 'share'; readonly id: string };
  /** AES-256-GCM: base64 of nonce ‖ ciphertext ‖ tag. */
  readonly wrapped: string;
}

/** `shareKey_<id>.seal_<h(uid)>`: K_N sealed to a recipient's X25519 public key. */
export interface ShareSealFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'share-key-seal';
  readonly owner: string;
  readonly id: string;
  readonly uid: string;
  readonly publicKeyId: string;
  readonly sealed: string;
}

/** `shareKey_<id>.link_<h(token)>`: K_N wrapped under HKDF(link token). */
export interface ShareLinkFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'share-key-link';
  readonly owner: string;
  readonly id: string;
  readonly salt: string;
  readonly wrapped: string;
}

/** `shareKey_<id>.under_<ancestorId>`: K_N wrapped under the share key of an enclosing shared node. */
export interface ShareUnderFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'share-key-under';
  readonly owner: string;
  readonly id: string;
  readonly ancestorId: string;
  readonly wrapped: string;
}

/**
 * `shareKey_<id>.keyring_<tag>` (append-only segments; `shareKey_<id>.keyring` from earlier versions
 * reads as one more): data keys of blobs whose header names another key (files that existed before N
 * was shared, were moved in, or were written while N was being shared), each wrapped under K_N.
 * Entries: [fileId, blobId hex, base64 wrap].
 */
export interface ShareKeyringFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'share-keyring';
  readonly owner: string;
  readonly id: string;
  readonly entries: readonly (readonly [number, string, string])[];
}

const h32 = (label: string, v: string): string => createHash('sha256').update(label).update(v, 'utf8').digest('hex').slice(0, 32);

export const shareNodeName = (fileId: number): string => `shareNode_${fileId}.json`;
export const shareKeyName = (id: string): string => `shareKey_${id}.key`;
export const shareSealName = (id: string, uid: string): string => `shareKey_${id}.seal_${h32('coffer share seal name\0', uid)}`;
export const shareLinkName = (id: string, token: string): string => `shareKey_${id}.link_${h32('coffer share link name\0', token)}`;
export const shareUnderName = (id: string, ancestorId: string): string => `shareKey_${id}.under_${ancestorId}`;
/** The keyring's segment `tag` (16 hex digits); see ShareKeyring. */
export const keyringSegmentName = (id: string, tag: string): string => `shareKey_${id}.keyring_${tag}`;
/** Whether key file `name` is part of the keyring of share key `id` (a segment, or the single file of earlier versions). */
export const isKeyringFileOf = (id: string, name: string): boolean =>
  name.startsWith(`shareKey_${id}.keyring`) && /^shareKey_[0-9a-f]{32}\.keyring(?:_[0-9a-f]{16})?$/.test(name);
export const SHARE_UNDER_FILE = /^shareKey_([0-9a-f]{32})\.under_([0-9a-f]{32})$/;
export const SHARE_SEAL_FILE = /^shareKey_([0-9a-f]{32})\.seal_[0-9a-f]{32}$/;
export const SHARE_LINK_FILE = /^shareKey_([0-9a-f]{32})\.link_[0-9a-f]{32}$/;

const id16 = (hex: string): Buffer => Buffer.from(hex, 'hex');
const str0 = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);

/** AAD of the owner wrap: label ‖ owner ‖ 0 ‖ keyId ‖ fileId(u64) ‖ type ‖ wrapperId. */
export function shareKeyAad(owner: string, id: string, fileId: number, by: ShareKeyFile['wrappedBy']): Buffer {
  return Buffer.concat([Buffer.from('coffer share key\0', 'latin1'), str0(owner), id16(id), encodeFileId(fileId), str0(by.type), id16(by.id)]);
}

/** AAD of a recipient seal: label ‖ owner ‖ 0 ‖ recipient ‖ 0 ‖ keyId ‖ publicKeyId. */
export function shareSealAad(owner: string, id: string, uid: string, pubId: string): Buffer {
  return Buffer.concat([Buffer.from('coffer share key sealed\0', 'latin1'), str0(owner), str0(uid), id16(id), id16(pubId)]);
}

/** AAD of a link wrap: label ‖ owner ‖ 0 ‖ keyId. */
export function shareLinkAad(owner: string, id: string): Buffer {
  return Buffer.concat([Buffer.from('coffer share key link\0', 'latin1'), str0(owner), id16(id)]);
}

/** AAD of an under-wrap: label ‖ owner ‖ 0 ‖ keyId ‖ ancestorKeyId. */
export function shareUnderAad(owner: string, id: string, ancestorId: string): Buffer {
  return Buffer.concat([Buffer.from('coffer share key under\0', 'latin1'), str0(owner), id16(id), id16(ancestorId)]);
}

/** AAD of a keyring entry: label ‖ keyId ‖ fileId(u64) ‖ blobId(16). */
export function keyringEntryAad(id: string, fileId: number, blobId: Buffer): Buffer {
  return Buffer.concat([Buffer.from('coffer share keyring dek\0', 'latin1'), id16(id), encodeFileId(fileId), blobId]);
}

/** The KEK of a link wrap: HKDF-SHA256(token, salt, "coffer link share key v1"). */
export function linkKek(token: string, salt: Buffer): Buffer {
  return hkdfSha256(Buffer.from(token, 'utf8'), salt, Buffer.from('coffer link share key v1', 'latin1'), KEY_SIZE);
}

import { randomInt } from 'node:crypto';

const TOKEN_ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
/** Link tokens: 15 characters from a 56-letter alphabet (≈ 87 bits), as Nextcloud's length. */
export const TOKEN_LENGTH = 15;

/** A fresh random link token. */
export function newShareToken(): string {
  let t = '';
  for (let i = 0; i < TOKEN_LENGTH; i++) t += TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)];
  return t;
}

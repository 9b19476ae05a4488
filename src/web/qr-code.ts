import qrcode from 'qrcode-generator';

/**
 * A QR code of `text` as a `data:image/gif` URL (the page CSP allows data: images; no script, no
 * external service sees the TOTP secret). Error correction M, as authenticator apps expect.
 */
export function qrDataUrl(text: string): string {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  return qr.createDataURL(5, 4);
}

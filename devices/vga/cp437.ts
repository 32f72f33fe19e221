// Code page 437 (the IBM PC's character ROM) to Unicode. The control range 0x00-0x1F and 0x7F
// have their glyphs (☺, ♥, ▲, ⌂, ...), as the VGA character generator draws them; 0x00 is
// shown as a space and 0xFF is the no-break space.

const LOW = " ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼";
const HIGH =
  "ÇüéâäàåçêëèïîìÄÅ" +
  "ÉæÆôöòûùÿÖÜ¢£¥₧ƒ" +
  "áíóúñÑªº¿⌐¬½¼¡«»" +
  "░▒▓│┤╡╢╖╕╣║╗╝╜╛┐" +
  "└┴┬├─┼╞╟╚╔╩╦╠═╬╧" +
  "╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀" +
  "αßΓπΣσµτΦΘΩδ∞φε∩" +
  "≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0";

/** The 256 characters of code page 437, indexed by byte. */
export const CP437: readonly string[] = (() => {
  const t: string[] = [];
  for (const ch of LOW) t.push(ch);
  for (let b = 0x20; b < 0x7f; b++) t.push(String.fromCharCode(b));
  t.push("⌂");
  for (const ch of HIGH) t.push(ch);
  if (t.length !== 256) throw new Error(`CP437 table has ${t.length} entries`);
  return t;
})();

/** Decodes CP437 bytes to a string. */
export function decodeCp437(bytes: ArrayLike<number>): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += CP437[bytes[i]! & 0xff];
  return s;
}

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
typedef unsigned char u8;
static void hex2(const char *h, u8 *out, int n) { for (int i = 0; i < n; i++) { unsigned v; sscanf(h + 2*i, "%2x", &v); out[i] = v; } }
static void pr(const u8 *b, int n) { for (int i = 0; i < n; i++) printf("%02x", b[i]); }
#define BODY(OPS) asm volatile("fninit\n fldcw %[cw]\n fldt %[b]\n fldt %[a]\n" OPS "\n fnstsw %[sw]\n fnclex\n fstpt %[r1]\n fnclex\n fstpt %[r2]\n fninit\n" \
   : [sw]"=m"(sw), [r1]"=m"(*(u8(*)[10])r1), [r2]"=m"(*(u8(*)[10])r2), [mem]"+m"(*(u8(*)[10])mem) : [cw]"m"(cw), [a]"m"(*(u8(*)[10])a), [b]"m"(*(u8(*)[10])b) : "memory")
int main(void) {
  char line[512];
  while (fgets(line, sizeof line, stdin)) {
    int op; char ha[64], hb[64], hm[64]; unsigned cwv;
    if (sscanf(line, "%d %x %s %s %s", &op, &cwv, ha, hb, hm) != 5) continue;
    u8 a[10], b[10], mem[10], r1[10], r2[10]; memset(r1, 0x55, 10); memset(r2, 0x66, 10); unsigned short sw = 0, cw = cwv;
    hex2(ha, a, 10); hex2(hb, b, 10); hex2(hm, mem, 10);
    switch (op) {
      case 0: BODY(".byte 0xd8,0xc1"); break;
      case 1: BODY(".byte 0xd8,0xe1"); break;
      case 2: BODY(".byte 0xd8,0xe9"); break;
      case 3: BODY(".byte 0xd8,0xc9"); break;
      case 4: BODY(".byte 0xd8,0xf1"); break;
      case 5: BODY(".byte 0xd8,0xf9"); break;
      case 6: BODY(".byte 0xd9,0xfa"); break;
      case 7: BODY(".byte 0xd9,0xf8"); break;
      case 8: BODY(".byte 0xd9,0xf5"); break;
      case 9: BODY(".byte 0xd9,0xfc"); break;
      case 10: BODY(".byte 0xd9,0xfd"); break;
      case 11: BODY(".byte 0xd9,0xf4"); break;
      case 12: BODY(".byte 0xd8,0xd1"); break;
      case 13: BODY(".byte 0xdd,0xe1"); break;
      case 14: BODY(".byte 0xd9,0xe4"); break;
      case 15: BODY(".byte 0xd9,0xe5"); break;
      case 16: BODY("fsts %[mem]"); break;
      case 17: BODY("fstl %[mem]"); break;
      case 18: BODY("fists %[mem]"); break;
      case 19: BODY("fistl %[mem]"); break;
      case 20: BODY("fistpll %[mem]\n fld %%st(0)"); break;
      case 21: BODY("fbstp %[mem]\n fld %%st(0)"); break;
      case 22: BODY("flds %[mem]"); break;
      case 23: BODY("fldl %[mem]"); break;
      case 24: BODY("fbld %[mem]"); break;
      case 25: BODY("fildll %[mem]"); break;
      case 26: BODY("fadds %[mem]"); break;
      case 27: BODY("fdivl %[mem]"); break;
      case 28: BODY("fsubrl %[mem]"); break;
      case 29: BODY("fmuls %[mem]"); break;
      case 30: BODY("fcoms %[mem]"); break;
      case 31: BODY("fiaddl %[mem]"); break;
      case 32: BODY("fidivrs %[mem]"); break;
      case 33: BODY(".byte 0xd9,0xe0"); break;
      case 34: BODY(".byte 0xd9,0xe1"); break;
      case 35: BODY(".byte 0xde,0xd9\n fld %%st(0)\n fld %%st(0)"); break;
      case 36: BODY(".byte 0xd9,0xe8"); break;
      case 37: BODY(".byte 0xd9,0xe9"); break;
      case 38: BODY(".byte 0xd9,0xea"); break;
      case 39: BODY(".byte 0xd9,0xeb"); break;
      case 40: BODY(".byte 0xd9,0xec"); break;
      case 41: BODY(".byte 0xd9,0xed"); break;
      case 42: BODY(".byte 0xd9,0xee"); break;
      case 43: BODY(".byte 0xd9,0xfe"); break;
      case 44: BODY(".byte 0xd9,0xff"); break;
      case 45: BODY(".byte 0xd9,0xfb"); break;
      case 46: BODY(".byte 0xd9,0xf2"); break;
      case 47: BODY(".byte 0xd9,0xf3\n fld %%st(0)"); break;
      case 48: BODY(".byte 0xd9,0xf0"); break;
      case 49: BODY(".byte 0xd9,0xf1\n fld %%st(0)"); break;
      case 50: BODY(".byte 0xd9,0xf9\n fld %%st(0)"); break;
      case 51: BODY(".byte 0xd8,0xd9"); break;
      case 52: BODY(".byte 0xda,0xe9"); break;
      case 53: BODY(".byte 0xdb,0xf1"); break;
      case 54: BODY(".byte 0xdf,0xf1"); break;
      case 55: BODY(".byte 0xdf,0xe9"); break;
      case 56: BODY(".byte 0xdd,0xd8,0xdd,0xd8,0xd9,0xc3"); break;
      case 57: BODY(".byte 0xdd,0xd8,0xd9,0xc9"); break;
      case 58: BODY(".byte 0xdd,0xd8,0xd8,0xc1"); break;
      case 59: BODY(".byte 0xdd,0xd8,0xdd,0xd8,0xd9,0xfe"); break;
      case 60: BODY(".byte 0xdd,0xd8,0xde,0xd9"); break;
      case 61: BODY(".byte 0xdd,0xd8,0xdb,0xf1"); break;
      case 62: BODY(".byte 0xdd,0xd8,0xd9,0xf2"); break;
      case 64: BODY(".byte 0xdd,0xd8,0xd9,0xf1"); break;
      case 65: BODY(".byte 0xdd,0xd8,0xda,0xc1"); break;
      case 66: BODY(".byte 0xdd,0xd8,0xdd,0xd8,0xd9,0xe0"); break;
      case 67: BODY(".byte 0xdd,0xd8,0xdd,0xd8,0xd9,0xe4"); break;
      case 68: BODY(".byte 0xdd,0xd8,0xd9,0xfd"); break;
      case 69: BODY(".byte 0xdd,0xd8,0xd9,0xf8"); break;
      case 70: BODY(".byte 0xdd,0xd8,0xde,0xc1"); break;
      case 71: BODY(".byte 0xdd,0xd8,0xdd,0xd8,0xd9,0xf4"); break;
      case 72: BODY(".byte 0xdd,0xd8,0xdd,0xd8,0xd9,0xfb"); break;
      case 73: BODY(".byte 0xdd,0xd8,0xd9,0xcb"); break;
      case 74: BODY(".byte 0xdd,0xd8,0xdd,0xd8,0xdd,0xd3"); break;
      default: continue;
    }
    printf("%04x ", sw); pr(r1, 10); printf(" "); pr(r2, 10); printf(" "); pr(mem, 10); printf("\n");
  }
  return 0;
}

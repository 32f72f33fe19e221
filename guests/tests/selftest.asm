; Checks the reporting of lib.inc itself: one passing check, one failing check, then an
; exception nobody expected. test/system/programs.test.ts expects exactly this report, so a
; broken harness cannot make every other program look as if it passed.

%include "lib.inc"

main:
        CHECK 5, 5, "a passing check"
        CHECK 1, 2, "a failing check"
        ud2                             ; unexpected: reported, then the program ends
        jmp done

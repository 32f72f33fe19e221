// virsh's table, field and capacity shapes.

import { describe, expect, it } from "vitest";
import { fields, prettyCapacity, table } from "../../../manage/cli/virsh-format.js";

describe("virsh output shapes", () => {
  it("prints tables as vsh-table does", () => {
    expect(table(["Id", "Name", "State"], [])).toBe(" Id   Name   State\n--------------------\n");
    expect(
      table(
        ["Id", "Name", "State"],
        [
          ["1", "tiny", "running"],
          ["-", "debian12", "shut off"],
        ],
      ),
    ).toBe(
      " Id   Name       State\n---------------------------\n 1    tiny       running\n -    debian12   shut off\n",
    );
    expect(table(["Name", "State", "Autostart", "Persistent"], [["default", "active", "yes", "yes"]])).toBe(
      " Name      State    Autostart   Persistent\n--------------------------------------------\n default   active   yes         yes\n",
    );
  });

  it("prints fields and capacities as virsh does", () => {
    expect(
      fields([
        ["Id", 1],
        ["Security model", "none"],
      ]),
    ).toBe("Id:             1\nSecurity model: none\n");
    expect(prettyCapacity(512)).toBe("512.00 B");
    expect(prettyCapacity(1024 ** 3)).toBe("1.00 GiB");
    expect(prettyCapacity(200704)).toBe("196.00 KiB");
  });
});

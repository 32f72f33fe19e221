// An ARIA tab list: arrow keys, Home and End move between tabs (the WAI-ARIA tabs pattern), the
// chosen tab is remembered with the settings.

import type { ComponentChildren } from "preact";
import { useRef } from "preact/hooks";

interface Props<T extends string> {
  tabs: readonly T[];
  current: T;
  label: string;
  name(tab: T): string;
  onSelect(tab: T): void;
  children: ComponentChildren;
}

export function Tabs<T extends string>(p: Props<T>) {
  const list = useRef<HTMLDivElement>(null);
  const move = (to: number) => {
    const tab = p.tabs[(to + p.tabs.length) % p.tabs.length]!;
    p.onSelect(tab);
    requestAnimationFrame(() => list.current?.querySelector<HTMLElement>(`#tab-${tab}`)?.focus());
  };
  const at = p.tabs.indexOf(p.current);
  return (
    <div class="tabs">
      <div
        role="tablist"
        aria-label={p.label}
        ref={list}
        onKeyDown={(e) => {
          if (e.key === "ArrowRight") move(at + 1);
          else if (e.key === "ArrowLeft") move(at - 1);
          else if (e.key === "Home") move(0);
          else if (e.key === "End") move(p.tabs.length - 1);
          else return;
          e.preventDefault();
        }}
      >
        {p.tabs.map((tab) => (
          <button
            type="button"
            role="tab"
            id={`tab-${tab}`}
            aria-selected={tab === p.current}
            aria-controls={`panel-${tab}`}
            tabIndex={tab === p.current ? 0 : -1}
            onClick={() => p.onSelect(tab)}
          >
            {p.name(tab)}
          </button>
        ))}
      </div>
      {/* Focusable (WAI-ARIA tabs pattern): a panel may scroll and hold nothing else to focus (the Disk tab). */}
      <div
        role="tabpanel"
        id={`panel-${p.current}`}
        aria-labelledby={`tab-${p.current}`}
        class="tabpanel"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the APG's tab panel takes focus so it can be scrolled by keyboard
        tabIndex={0}
      >
        {p.children}
      </div>
    </div>
  );
}

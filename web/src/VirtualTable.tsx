/**
 * A table of any length: rows rendered only where visible (@tanstack/virtual-core), each row
 * measured as it renders (a cell that wraps makes its row taller, never overlapping the next one),
 * columns as one CSS grid shared by the header and the rows. In a narrow box (a phone) every row
 * becomes a small card of "column: value" lines, so no value is pushed off screen.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useMemo, useReducer, useRef } from "preact/hooks";
import { Virtualizer, elementScroll, measureElement, observeElementOffset, observeElementRect } from "@tanstack/virtual-core";

export interface Column<T> {
  title: string;
  width: string;
  render: (row: T) => ComponentChildren;
  align?: "right";
}

export function VirtualTable<T>({
  rows,
  columns,
  rowKey,
  rowHeight = 40,
  maxHeight = 440,
  empty = "Nothing yet.",
  onRange,
  testid,
}: {
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string | number;
  /** The expected height of a row, px (rows are measured once rendered). */
  rowHeight?: number;
  maxHeight?: number;
  empty?: string;
  onRange?: (first: number, last: number) => void;
  testid?: string;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const virtualizer = useMemo(
    () =>
      new Virtualizer<HTMLDivElement, Element>({
        count: rows.length,
        getScrollElement: () => scrollRef.current,
        estimateSize: () => rowHeight,
        measureElement,
        overscan: 6,
        observeElementRect,
        observeElementOffset,
        scrollToFn: elementScroll,
        onChange: () => rerender(0),
      }),
    [],
  );
  virtualizer.setOptions({ ...virtualizer.options, count: rows.length, getItemKey: (i) => rowKey(rows[i]) });
  useLayoutEffect(() => virtualizer._didMount(), []);
  useLayoutEffect(() => virtualizer._willUpdate());
  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? -1;
  useEffect(() => onRange?.(first, last), [first, last, rows.length]);
  const template = columns.map((c) => c.width).join(" ");
  const total = virtualizer.getTotalSize();
  const height = Math.min(maxHeight, Math.max(total, rowHeight));
  return (
    <div class="vt" role="table" data-testid={testid} data-rows={rows.length}>
      <div class="vt-inner">
        <div class="vt-row vt-head" role="row" style={{ gridTemplateColumns: template }}>
          {columns.map((c) => (
            <div role="columnheader" class={c.align === "right" ? "num" : ""}>
              {c.title}
            </div>
          ))}
        </div>
        <div ref={scrollRef} class="vt-body" style={{ height: rows.length === 0 ? "auto" : `${height}px` }}>
          {rows.length === 0 ? (
            <p class="vt-empty">{empty}</p>
          ) : (
            <div style={{ height: `${total}px`, position: "relative" }}>
              {items.map((it) => {
                const row = rows[it.index];
                return (
                  <div
                    key={rowKey(row)}
                    ref={(el) => {
                      if (el) virtualizer.measureElement(el);
                    }}
                    data-index={it.index}
                    role="row"
                    class="vt-row"
                    style={{ gridTemplateColumns: template, minHeight: `${rowHeight}px`, transform: `translateY(${it.start}px)` }}
                  >
                    {columns.map((c) => (
                      <div role="cell" class={c.align === "right" ? "num" : ""} data-title={c.title}>
                        <div class="vt-value">{c.render(row)}</div>
                      </div>
                    ))}
                  </div>
                );
              })}
            </div>
          )}
        </div>
      </div>
    </div>
  );
}

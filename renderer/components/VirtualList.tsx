import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { computeWindow } from './virtual-window';

/**
 * A list that renders only the rows on screen. Rows have one fixed height, so the window
 * is plain arithmetic on scrollTop; 100,000 rows cost as much as 20.
 */
export interface VirtualListProps {
  count: number;
  rowHeight: number;
  label: string;
  renderRow(index: number): ReactNode;
  /** Told which rows are (about to be) visible, to load their data. */
  onRangeChange?(first: number, last: number): void;
  empty?: ReactNode;
  testId?: string;
}

export function VirtualList({ count, rowHeight, label, renderRow, onRangeChange, empty, testId }: VirtualListProps) {
  const viewport = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);

  useLayoutEffect(() => {
    const element = viewport.current;
    if (!element) return;
    setHeight(element.clientHeight);
    const observer = new ResizeObserver(() => setHeight(element.clientHeight));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const { first, last, totalHeight } = computeWindow({ scrollTop, viewportHeight: height, rowHeight, count });

  useEffect(() => {
    if (last >= first) onRangeChange?.(first, last);
  }, [first, last, onRangeChange]);

  const rows: ReactNode[] = [];
  for (let index = first; index <= last; index++) {
    rows.push(
      <div
        key={index}
        className="vrow"
        role="listitem"
        aria-setsize={count}
        aria-posinset={index + 1}
        // CSSOM styles (not inline style attributes) are allowed by the page's CSP.
        style={{ transform: `translateY(${index * rowHeight}px)`, height: rowHeight }}
      >
        {renderRow(index)}
      </div>,
    );
  }

  return (
    <div
      ref={viewport}
      className="vlist"
      role="list"
      aria-label={label}
      tabIndex={0}
      data-testid={testId}
      data-count={count}
      onScroll={(event) => setScrollTop(event.currentTarget.scrollTop)}
    >
      {count === 0 && empty ? <div className="vlist-empty">{empty}</div> : null}
      <div className="vlist-space" style={{ height: totalHeight }}>
        {rows}
      </div>
    </div>
  );
}

// The message table and the detail pane (plain DOM; text only through textContent).
import { type RowSummary, shortTime, summarize } from "./summary.ts";

/**
 * Rows beyond this are not rendered (the status line says so): style and layout of a DOM table
 * grow with its cells (2000 rows: ~0.3 s on an idle 2-core machine, several seconds loaded).
 */
export const MAX_ROWS = 2000;

/** Prefixes shown in a cell before "… N more" (the detail pane has them all). */
const PREFIXES_SHOWN = 3;

function cell(row: HTMLTableRowElement, col: string, text: string, title?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.dataset.col = col;
  td.textContent = text;
  if (title) td.title = title;
  return td;
}

function prefixCell(row: HTMLTableRowElement, col: string, prefixes: string[]): void {
  const td = cell(row, col, "", prefixes.join("\n"));
  if (prefixes.length === 0) return;
  const count = document.createElement("span");
  count.className = "count";
  count.textContent = String(prefixes.length);
  const list = document.createElement("span");
  list.className = "list";
  const shown = prefixes.slice(0, PREFIXES_SHOWN).join(" ");
  list.textContent = prefixes.length > PREFIXES_SHOWN ? `${shown} … ${prefixes.length - PREFIXES_SHOWN} more` : shown;
  td.append(count, list);
}

function fillRow(row: HTMLTableRowElement, index: number, s: RowSummary): void {
  row.dataset.index = String(index);
  row.className = s.severity;
  cell(row, "index", String(index + 1));
  cell(row, "time", s.time ? shortTime(s.time) : "", s.time);
  cell(row, "flow", s.flow);
  cell(row, "type", s.type);
  cell(row, "length", s.length);
  prefixCell(row, "nlri", s.nlri);
  prefixCell(row, "withdrawn", s.withdrawn);
  cell(row, "asPath", s.asPath);
  cell(row, "nextHop", s.nextHop);
  cell(row, "details", s.details, s.details);
}

export class MessageView {
  private messages: Record<string, unknown>[] = [];
  private summaries: RowSummary[] = [];
  private selected = -1;

  constructor(
    private readonly tbody: HTMLTableSectionElement,
    private readonly detailTitle: HTMLElement,
    /** The row's details in full when the message has a problem (the table cell is cut to one line). */
    private readonly detailProblem: HTMLElement,
    private readonly detailJson: HTMLElement,
  ) {
    tbody.addEventListener("click", (ev) => {
      const row = (ev.target as Element).closest("tr");
      if (row?.dataset.index !== undefined) this.select(Number(row.dataset.index));
    });
    tbody.closest("table")!.addEventListener("keydown", (ev) => {
      const step = ev.key === "ArrowDown" ? 1 : ev.key === "ArrowUp" ? -1 : 0;
      if (!step || this.rendered() === 0) return;
      ev.preventDefault();
      this.select(Math.min(this.rendered() - 1, Math.max(0, this.selected + step)));
    });
  }

  private rendered(): number {
    return Math.min(this.messages.length, MAX_ROWS);
  }

  /** Replaces the table's contents; selects the first message with a problem, else the first one. */
  show(messages: Record<string, unknown>[]): void {
    this.messages = messages;
    this.summaries = [];
    this.selected = -1;
    const body = document.createDocumentFragment();
    let firstProblem = -1;
    for (let i = 0; i < this.rendered(); i++) {
      const row = document.createElement("tr");
      const s = summarize(messages[i]);
      this.summaries.push(s);
      fillRow(row, i, s);
      if (firstProblem < 0 && s.severity !== "ok") firstProblem = i;
      body.append(row);
    }
    this.tbody.replaceChildren(body);
    if (this.rendered() > 0) this.select(firstProblem >= 0 ? firstProblem : 0);
    else this.clearDetail();
  }

  private clearDetail(): void {
    this.detailTitle.textContent = "No message selected";
    this.detailProblem.hidden = true;
    this.detailJson.textContent = "";
  }

  select(index: number): void {
    const rows = this.tbody.rows;
    rows[this.selected]?.removeAttribute("aria-selected");
    this.selected = index;
    const row = rows[index];
    row.setAttribute("aria-selected", "true");
    row.scrollIntoView({ block: "nearest" });
    const msg = this.messages[index];
    this.detailTitle.textContent = `Message ${index + 1} of ${this.messages.length}${msg.type ? `: ${msg.type}` : ""}`;
    const { severity, details } = this.summaries[index];
    this.detailProblem.hidden = severity === "ok";
    this.detailProblem.className = severity;
    this.detailProblem.textContent = severity === "ok" ? "" : details;
    // Exactly the object `sart decode` prints for this message.
    this.detailJson.textContent = JSON.stringify(msg, null, 2);
  }
}

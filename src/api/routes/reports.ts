/**
 * Statements and reports (API.md "statements, reports"): `POST /v1/statements` as JSON, CSV or
 * PDF, `GET /v1/reports/trial-balance` and `GET /v1/reports/eod`, all read from the read
 * models (src/queries/reports.ts) and guarded by `reports:read`. The CSV and PDF renderings
 * live here because they are transport formats of the one Statement the query answers.
 */
import type { FastifyInstance } from "fastify";
import PDFDocument from "pdfkit";
import type { Reports } from "../../queries/reports.js";
import { type Statement, StatementTooLarge } from "../../queries/statements.js";
import { awaitMinPosition, type ReadModelProgress } from "../consistency.js";
import { notFound } from "../outcomes.js";
import { ProblemError } from "../problem.js";
import {
  endOfDay,
  endOfDayQuery,
  statementRequest,
  statementResponse,
  trialBalance,
  trialBalanceQuery,
} from "../report-schemas.js";
import { problem, readHeaders } from "../schemas.js";
import { withZod } from "./context.js";

const tags = ["Reports"];

/** What the report endpoints read: the report queries, and the projector's progress. */
export interface ReportsApi {
  readonly reports: Reports;
  readonly progress: ReadModelProgress;
}

export async function reportRoutes(instance: FastifyInstance, api: ReportsApi): Promise<void> {
  const app = withZod(instance);

  app.post(
    "/v1/statements",
    {
      config: { scope: "reports:read" },
      schema: {
        tags,
        summary: "An account's statement for a period",
        description:
          "Opening balance at `from`, every entry in [from, to) with the running balance, the " +
          'totals and the closing balance. `format: "csv"` answers text/csv with the lines\' ' +
          'columns, `"pdf"` an application/pdf statement of about 40 lines a page. Accepts ' +
          "`X-Min-Position` like a GET.",
        headers: readHeaders,
        body: statementRequest,
        response: { 200: statementResponse, 400: problem, 404: problem, 422: problem },
      },
    },
    async (request, reply) => {
      // A statement is a read: read-your-writes applies to it as to any GET.
      await awaitMinPosition(request, api.progress);
      const { accountId, format } = request.body;
      const from = new Date(request.body.from);
      const to = new Date(request.body.to);
      if (from.getTime() >= to.getTime()) throw periodProblem();
      const found = await readStatement(api.reports, { accountId, from, to });
      if (found === undefined) {
        throw notFound("ACCOUNT_NOT_FOUND", `account ${accountId} does not exist`);
      }
      if (format === "csv") {
        return reply
          .type("text/csv; charset=utf-8")
          .header("content-disposition", attachment(found, "csv"))
          .send(statementCsv(found));
      }
      if (format === "pdf") {
        const pdf = await statementPdf(found, new Date());
        return reply
          .type("application/pdf")
          .header("content-disposition", attachment(found, "pdf"))
          .send(pdf);
      }
      return found;
    },
  );

  app.get(
    "/v1/reports/trial-balance",
    {
      config: { scope: "reports:read" },
      schema: {
        tags,
        summary: "Trial balance at an instant",
        description:
          "Each account's balance summed from its entries posted at or before `asOf`, put in " +
          "the debit or the credit column; per currency the two columns must be equal.",
        headers: readHeaders,
        querystring: trialBalanceQuery,
        response: { 200: trialBalance, 400: problem },
      },
    },
    async (request) => {
      const asOf = request.query.asOf === undefined ? new Date() : new Date(request.query.asOf);
      return api.reports.trialBalance(asOf);
    },
  );

  app.get(
    "/v1/reports/eod",
    {
      config: { scope: "reports:read" },
      schema: {
        tags,
        summary: "End-of-day report of a UTC day",
        headers: readHeaders,
        querystring: endOfDayQuery,
        response: { 200: endOfDay, 400: problem },
      },
    },
    async (request) => {
      try {
        return await api.reports.endOfDay(request.query.date);
      } catch (error) {
        if (error instanceof RangeError) throw validationProblem("/querystring/date", error);
        throw error;
      }
    },
  );
}

async function readStatement(
  reports: Reports,
  request: { accountId: string; from: Date; to: Date },
): Promise<Statement | undefined> {
  try {
    return await reports.statement(request);
  } catch (error) {
    if (!(error instanceof StatementTooLarge)) throw error;
    throw new ProblemError({
      status: 422,
      code: error.code,
      title: "Statement too large",
      detail: error.message,
    });
  }
}

function periodProblem(): ProblemError {
  return new ProblemError({
    status: 400,
    code: "VALIDATION_ERROR",
    title: "Invalid request",
    detail: "`from` must be before `to`",
    errors: [{ path: "/to", message: "must be after from" }],
  });
}

function validationProblem(path: string, error: Error): ProblemError {
  return new ProblemError({
    status: 400,
    code: "VALIDATION_ERROR",
    title: "Invalid request",
    detail: error.message,
    errors: [{ path, message: error.message }],
  });
}

function attachment(found: Statement, extension: string): string {
  const day = (iso: string) => iso.slice(0, 10).replaceAll("-", "");
  return `attachment; filename="statement-${found.accountId}-${day(found.from)}-${day(found.to)}.${extension}"`;
}

// --- CSV ---------------------------------------------------------------------------------------

const csvColumns = [
  "postedAt",
  "postingId",
  "transactionType",
  "reference",
  "description",
  "debit",
  "credit",
  "balance",
] as const;

/** Columns a client wrote: a spreadsheet must never run them as formulas. */
const freeTextColumns: ReadonlySet<string> = new Set([
  "transactionType",
  "reference",
  "description",
]);

/** RFC 4180: CRLF line ends, a header row, fields quoted when they need it. */
export function statementCsv(found: Statement): string {
  const rows = found.lines.map((line) =>
    csvColumns.map((column) => csvField(line[column], freeTextColumns.has(column))).join(","),
  );
  return `${[csvColumns.join(","), ...rows].join("\r\n")}\r\n`;
}

function csvField(value: string | null, freeText: boolean): string {
  if (value === null) return "";
  // OWASP CSV injection: a leading = + - @ tab or CR makes a spreadsheet evaluate the cell.
  const safe = freeText && /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

// --- PDF ---------------------------------------------------------------------------------------

/** About 40 lines a page, as a printed bank statement has: legible at 7.5 pt on A4. */
export const pdfLinesPerPage = 40;

const page = { left: 40, top: 40, width: 515, footerY: 810 };
const rowHeightPt = 13;
/** Where the table starts: below the summary box on the first page, below the header after. */
const tableTopYFirst = 160;
const tableTopYNext = 104;
const fontSizePt = 7.5;

interface Column {
  readonly title: string;
  readonly width: number;
  readonly align: "left" | "right";
}

const columns: readonly Column[] = [
  { title: "Posted (UTC)", width: 80, align: "left" },
  { title: "Posting", width: 44, align: "left" },
  { title: "Type", width: 58, align: "left" },
  { title: "Reference", width: 66, align: "left" },
  { title: "Description", width: 87, align: "left" },
  { title: "Debit", width: 60, align: "right" },
  { title: "Credit", width: 60, align: "right" },
  { title: "Balance", width: 60, align: "right" },
];

type Pdf = InstanceType<typeof PDFDocument>;

/**
 * The statement as a PDF: on every page a header (account, currency, period), the table with
 * the balance brought forward and each line's running balance, and "page n of m"; the first
 * page opens with the opening/closing summary and the last ends with the closing balance.
 */
export function statementPdf(found: Statement, generatedAt: Date): Promise<Buffer> {
  const doc = new PDFDocument({
    size: "A4",
    margins: { top: page.top, left: page.left, right: page.left, bottom: 10 },
    bufferPages: true,
    info: {
      Title: `Statement ${found.accountId} ${found.from} to ${found.to}`,
      Author: "Nova Ledger",
      CreationDate: generatedAt,
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on("data", (chunk: Buffer) => chunks.push(chunk));
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
  });
  drawPages(doc, found);
  drawFooters(doc, generatedAt);
  doc.end();
  return done;
}

function drawPages(doc: Pdf, found: Statement): void {
  const pageCount = Math.max(1, Math.ceil(found.lines.length / pdfLinesPerPage));
  let broughtForward = found.openingBalance;
  for (let pageIndex = 0; pageIndex < pageCount; pageIndex++) {
    if (pageIndex > 0) doc.addPage();
    drawHeader(doc, found);
    if (pageIndex === 0) drawSummary(doc, found);
    const lines = found.lines.slice(pageIndex * pdfLinesPerPage, (pageIndex + 1) * pdfLinesPerPage);
    let y = drawTableHead(doc, pageIndex === 0 ? tableTopYFirst : tableTopYNext);
    const label = pageIndex === 0 ? "Opening balance" : "Brought forward";
    y = drawBalanceRow(doc, y, label, broughtForward);
    for (const line of lines) {
      drawCells(doc, y, [
        line.postedAt.slice(0, 19).replace("T", " "),
        line.postingId.slice(0, 8),
        line.transactionType ?? "",
        line.reference ?? "",
        line.description ?? "",
        line.debit ?? "",
        line.credit ?? "",
        line.balance,
      ]);
      y += rowHeightPt;
      broughtForward = line.balance;
    }
    if (found.lines.length === 0) {
      doc.font("Helvetica-Oblique").fontSize(fontSizePt);
      doc.text("No entries in this period.", page.left, y + 3, { lineBreak: false });
      y += rowHeightPt;
    }
    if (pageIndex === pageCount - 1)
      drawBalanceRow(doc, y, "Closing balance", found.closingBalance);
  }
}

function drawHeader(doc: Pdf, found: Statement): void {
  doc.font("Helvetica-Bold").fontSize(14).fillColor("black");
  doc.text("Nova Ledger", page.left, page.top, { lineBreak: false });
  doc.text("Account statement", page.left, page.top, { width: page.width, align: "right" });
  doc.font("Helvetica").fontSize(9);
  doc.text(`Account ${found.accountId}`, page.left, page.top + 24, { lineBreak: false });
  doc.text(`Currency ${found.currency}`, page.left, page.top + 24, {
    width: page.width,
    align: "right",
  });
  const period = `Period ${utcText(found.from)} to ${utcText(found.to)} (UTC, end exclusive)`;
  doc.text(period, page.left, page.top + 37, { lineBreak: false });
  rule(doc, page.top + 52, 1);
}

function drawSummary(doc: Pdf, found: Statement): void {
  const cells: readonly [string, string][] = [
    ["Opening balance", found.openingBalance],
    ["Total debits", found.totalDebits],
    ["Total credits", found.totalCredits],
    ["Closing balance", found.closingBalance],
  ];
  const cellWidth = page.width / cells.length;
  const y = page.top + 62;
  doc.lineWidth(0.5).strokeColor("#999999").rect(page.left, y, page.width, 40).stroke();
  cells.forEach(([title, value], index) => {
    const x = page.left + index * cellWidth;
    doc.font("Helvetica").fontSize(8).fillColor("#555555");
    doc.text(title, x + 8, y + 7, { width: cellWidth - 16, lineBreak: false });
    doc.font("Helvetica-Bold").fontSize(11).fillColor("black");
    doc.text(`${value} ${found.currency}`, x + 8, y + 20, {
      width: cellWidth - 16,
      lineBreak: false,
    });
  });
}

/** The column titles at `top`; returns the y of the first row. */
function drawTableHead(doc: Pdf, top: number): number {
  doc.font("Helvetica-Bold").fontSize(fontSizePt).fillColor("black");
  let x = page.left;
  for (const column of columns) {
    doc.text(column.title, x + 2, top, {
      width: column.width - 4,
      align: column.align,
      lineBreak: false,
    });
    x += column.width;
  }
  rule(doc, top + 11, 0.75);
  return top + 15;
}

function drawBalanceRow(doc: Pdf, y: number, label: string, balance: string): number {
  doc
    .rect(page.left, y - 2, page.width, rowHeightPt)
    .fill("#eeeeee")
    .fillColor("black");
  doc.font("Helvetica-Bold").fontSize(fontSizePt);
  doc.text(label, page.left + 2, y + 1, { lineBreak: false });
  const balanceColumn = columns.at(-1);
  const width = balanceColumn?.width ?? 60;
  doc.text(balance, page.left + page.width - width + 2, y + 1, {
    width: width - 4,
    align: "right",
    lineBreak: false,
  });
  return y + rowHeightPt;
}

function drawCells(doc: Pdf, y: number, cells: readonly string[]): void {
  doc.font("Helvetica").fontSize(fontSizePt).fillColor("black");
  let x = page.left;
  columns.forEach((column, index) => {
    const text = fitText(doc, printable(cells[index] ?? ""), column.width - 4);
    doc.text(text, x + 2, y + 1, {
      width: column.width - 4,
      align: column.align,
      lineBreak: false,
    });
    x += column.width;
  });
  doc.lineWidth(0.25).strokeColor("#dddddd");
  doc.moveTo(page.left, y + rowHeightPt - 2).lineTo(page.left + page.width, y + rowHeightPt - 2);
  doc.stroke();
}

function drawFooters(doc: Pdf, generatedAt: Date): void {
  const range = doc.bufferedPageRange();
  for (let index = range.start; index < range.start + range.count; index++) {
    doc.switchToPage(index);
    doc.font("Helvetica").fontSize(7).fillColor("#555555");
    const text = `Page ${index + 1} of ${range.count} · generated ${utcText(generatedAt.toISOString())} UTC`;
    doc.text(text, page.left, page.footerY, {
      width: page.width,
      align: "right",
      lineBreak: false,
    });
  }
}

function rule(doc: Pdf, y: number, width: number): void {
  doc.lineWidth(width).strokeColor("black");
  doc
    .moveTo(page.left, y)
    .lineTo(page.left + page.width, y)
    .stroke();
}

/** Shortens text to `widthPt` with an ellipsis, so a long description never overlaps a column. */
function fitText(doc: Pdf, text: string, widthPt: number): string {
  if (doc.widthOfString(text) <= widthPt) return text;
  // Binary search for the longest prefix that fits with the ellipsis: log n measurements.
  let fits = 0;
  let tooLong = text.length;
  while (tooLong - fits > 1) {
    const middle = Math.floor((fits + tooLong) / 2);
    if (doc.widthOfString(`${text.slice(0, middle)}…`) <= widthPt) fits = middle;
    else tooLong = middle;
  }
  return `${text.slice(0, fits)}…`;
}

/** What WinAnsi, the standard PDF fonts' encoding, adds to Latin-1 (dashes, quotes, €, …). */
const winAnsiExtras = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ";

/** The standard PDF fonts encode WinAnsi only; anything else would print as garbage. */
function printable(text: string): string {
  return [...text]
    .map((char) =>
      /[\x20-\x7e\u00a0-\u00ff]/.test(char) || winAnsiExtras.includes(char) ? char : "?",
    )
    .join("");
}

function utcText(iso: string): string {
  return iso.slice(0, 19).replace("T", " ");
}

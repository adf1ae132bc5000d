/**
 * Sends notification mail through the SMTP server of HUBMILL_SMTP_URL with
 * nodemailer: `smtp://` upgrades with STARTTLS when the server offers it,
 * `smtps://` speaks TLS from the start. The password never reaches a log line.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { MailMessage } from './mail-message.js';

export interface Mailer {
  send(to: string, m: MailMessage): Promise<void>;
  close(): void;
}

/** Whether retrying may help: SMTP 5xx answers (a refused recipient) do not change. */
export function mailErrorIsFinal(err: unknown): boolean {
  const code = (err as { responseCode?: number }).responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

export function smtpMailer(url: string, from: string, opts: { timeoutMs?: number } = {}): Mailer {
  const t = opts.timeoutMs ?? 15_000;
  // Bounded waits (nodemailer's defaults are minutes).
  const options: SMTPTransport.Options = { url, connectionTimeout: t, greetingTimeout: t, socketTimeout: t };
  const transport: Transporter = nodemailer.createTransport(options);
  return {
    async send(to, m) {
      await transport.sendMail({ from, to, subject: m.subject, text: m.text, html: m.html });
    },
    close() {
      transport.close();
    },
  };
}

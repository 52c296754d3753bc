import { vi } from "vitest";

export interface XhrAnswer {
  status: number;
  body: unknown;
}

/** What the page asked: the method and path given to open(), the headers it set (lower-case names). */
export interface XhrRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/**
 * Stands in for the browser's XMLHttpRequest: reports upload progress in two steps, then
 * answers `answer` (status and body) the way the gateway does; an answer given as a promise
 * arrives when it settles (a server that is slow to answer).
 */
export function installXhr(answer: (form: FormData, request: XhrRequest) => XhrAnswer | Promise<XhrAnswer>) {
  const sent: FormData[] = [];
  class FakeXhr {
    upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null } = { onprogress: null };
    status = 0;
    responseText = "";
    timeout = 0;
    withCredentials = false;
    onload: (() => void) | null = null;
    onerror: (() => void) | null = null;
    ontimeout: (() => void) | null = null;
    onabort: (() => void) | null = null;
    request: XhrRequest = { method: "GET", url: "", headers: {} };
    open(method: string, url: string) {
      this.request = { method, url, headers: {} };
    }
    setRequestHeader(k: string, v: string) {
      this.request.headers[k.toLowerCase()] = v;
    }
    getAllResponseHeaders() {
      return "content-type: application/json\r\n";
    }
    abort() {
      this.onabort?.();
    }
    send(form: FormData) {
      sent.push(form);
      setTimeout(() => {
        this.upload.onprogress?.({ loaded: 5, total: 10, lengthComputable: true });
        setTimeout(() => {
          this.upload.onprogress?.({ loaded: 10, total: 10, lengthComputable: true });
          void Promise.resolve(answer(form, this.request)).then((a) => {
            this.status = a.status;
            this.responseText = JSON.stringify(a.body);
            this.onload?.();
          });
        }, 5);
      }, 5);
    }
  }
  vi.stubGlobal("XMLHttpRequest", FakeXhr);
  return sent;
}

import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * A real small filesystem for a test (tmpfs; the tests run as root): fill it to the brim,
 * grow it or free the filler, and unmount it in afterAll/finally.
 */
export interface Tmpfs {
  dir: string;
  /** Bytes the filesystem still has free. */
  free(): number;
  /** Writes a filler file until the disk refuses (ENOSPC); returns its path. */
  fill(name?: string): string;
  /** Grows (or shrinks) the filesystem in place: `mount -o remount,size=`. */
  resize(bytes: number): void;
  unmount(): void;
}

export function mountTmpfs(dir: string, bytes: number): Tmpfs {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  let mounted = true;
  return {
    dir,
    free() {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    },
    fill(name = '.filler') {
      const file = path.join(dir, name);
      const fd = openSync(file, 'a');
      const chunk = Buffer.alloc(64 * 1024);
      try {
        for (let size = chunk.length; size >= 1; ) {
          try {
            writeSync(fd, chunk, 0, size);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
            size = Math.floor(size / 2);
          }
        }
      } finally {
        closeSync(fd);
      }
      return file;
    },
    resize(size) {
      execFileSync('mount', ['-o', `remount,size=${size}`, dir]);
    },
    unmount() {
      if (!mounted) return;
      mounted = false;
      try {
        execFileSync('umount', [dir]);
      } catch {
        // Something still holds a file open: detach now, the kernel frees it once closed.
        execFileSync('umount', ['-l', dir]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

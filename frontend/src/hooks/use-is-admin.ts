import { useAuth } from "@/stores/auth";

/**
 * Whether the signed-in user may see system-wide, admin-only pages: an administrator, or
 * anyone when accounts are off (the gateway then treats every caller as the admin).
 */
export function useIsAdmin(): boolean {
  return useAuth((s) => s.config?.auth_mode !== "jwt" || s.user?.role === "admin");
}

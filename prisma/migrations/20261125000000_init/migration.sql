-- Initial schema: users, videos, thumbnails (prisma/schema.prisma). Written in the form
-- `prisma migrate diff --from-empty --to-schema prisma/schema.prisma --script` emits, so a
-- machine with Prisma's schema engine can take over with `prisma migrate deploy`.

-- CreateTable
CREATE TABLE "users" (
    "id" TEXT NOT NULL,
    "crm_contact_id" TEXT,
    "email" TEXT,
    "name" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "videos" (
    "id" VARCHAR(64) NOT NULL,
    "owner_id" TEXT NOT NULL,
    "s3_key" TEXT NOT NULL,
    "title" TEXT,
    "content_type" TEXT NOT NULL,
    "size_bytes" BIGINT NOT NULL,
    "visibility" TEXT NOT NULL DEFAULT 'private',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "videos_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "thumbnails" (
    "id" UUID NOT NULL,
    "video_id" VARCHAR(64) NOT NULL,
    "s3_key" TEXT NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "offset_seconds" DOUBLE PRECISION NOT NULL,
    "duration_seconds" DOUBLE PRECISION,
    "codec" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "thumbnails_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_crm_contact_id_key" ON "users"("crm_contact_id");

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

-- CreateIndex
CREATE UNIQUE INDEX "videos_s3_key_key" ON "videos"("s3_key");

-- CreateIndex
CREATE INDEX "videos_owner_id_created_at_idx" ON "videos"("owner_id", "created_at" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "thumbnails_s3_key_key" ON "thumbnails"("s3_key");

-- CreateIndex
CREATE INDEX "thumbnails_video_id_idx" ON "thumbnails"("video_id");

-- AddForeignKey
ALTER TABLE "videos" ADD CONSTRAINT "videos_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "thumbnails" ADD CONSTRAINT "thumbnails_video_id_fkey" FOREIGN KEY ("video_id") REFERENCES "videos"("id") ON DELETE CASCADE ON UPDATE CASCADE;
